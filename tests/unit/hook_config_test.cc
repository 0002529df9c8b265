// The hook flags: values, defaults, and the errors for bad ones.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/base/config.h"

namespace ringest {
namespace {

ParseOutcome parse(std::vector<const char*> args) {
  std::vector<const char*> argv = {"ringestd", "--listen", "127.0.0.1:0", "--data-dir", "/tmp/x"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(nullptr);
  return parse_args(static_cast<int>(argv.size() - 1), argv.data());
}

TEST(HookFlags, OffByDefault) {
  ParseOutcome out = parse({});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun);
  EXPECT_FALSE(out.config.hooks_enabled());
  EXPECT_FALSE(out.config.pre_create_enabled());
  EXPECT_EQ(out.config.hook_timeout_ms, 10000u);
  EXPECT_EQ(out.config.hook_retry_max_ms, 60000u);
  EXPECT_EQ(out.config.hook_outbox_max, 100000u);
  EXPECT_FALSE(out.config.pre_create_accept_on_failure);
}

TEST(HookFlags, EveryFlagTakesItsValue) {
  ParseOutcome out = parse({"--hook-url", "http://127.0.0.1:9/h", "--hook-exec", "/bin/true",
                            "--hook-secret-file", "/etc/s", "--hook-timeout", "2s",
                            "--hook-retry-max=500ms", "--hook-outbox-max", "64",
                            "--pre-create-url", "https://auth/x",
                            "--pre-create-timeout", "1500ms", "--pre-create-failure", "accept"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  const Config& c = out.config;
  EXPECT_TRUE(c.hooks_enabled());
  EXPECT_TRUE(c.pre_create_enabled());
  EXPECT_EQ(c.hook_url, "http://127.0.0.1:9/h");
  EXPECT_EQ(c.hook_exec, "/bin/true");
  EXPECT_EQ(c.hook_secret_file, "/etc/s");
  EXPECT_EQ(c.hook_timeout_ms, 2000u);
  EXPECT_EQ(c.hook_retry_max_ms, 500u);
  EXPECT_EQ(c.hook_outbox_max, 64u);
  EXPECT_EQ(c.pre_create_url, "https://auth/x");
  EXPECT_EQ(c.pre_create_timeout_ms, 1500u);
  EXPECT_TRUE(c.pre_create_accept_on_failure);
}

TEST(HookFlags, BadValuesAreErrorsNamingTheFlag) {
  for (std::vector<const char*> args : std::vector<std::vector<const char*>>{
           {"--hook-url", "ftp://x"},
           {"--hook-url", ""},
           {"--hook-exec", ""},
           {"--hook-timeout", "0"},
           {"--hook-timeout", "abc"},
           {"--hook-outbox-max", "3"},
           {"--pre-create-failure", "maybe"},
           {"--pre-create-timeout", "1h"},
           {"--pre-create-url", "http://a/", "--pre-create-exec", "/bin/true"}}) {
    ParseOutcome out = parse(args);
    EXPECT_EQ(out.kind, ParseOutcome::Kind::kError) << args[0] << " " << args[1];
    EXPECT_NE(out.error.find(args[0]), std::string::npos) << out.error;
  }
}

}  // namespace
}  // namespace ringest
