// Proves that parse_args turns a command line into the right Config, reports --help, and rejects
// every invalid command line with a message naming the offending flag; and that parse_size
// handles suffixes and overflow.
#include "engine/base/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace ringest {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"ringestd"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(nullptr);  // like a real argv; argc excludes it
  return parse_args(static_cast<int>(argv.size() - 1), argv.data());
}

std::string kind_name(ParseOutcome::Kind k) {
  switch (k) {
    case ParseOutcome::Kind::kRun:
      return "kRun";
    case ParseOutcome::Kind::kHelp:
      return "kHelp";
    case ParseOutcome::Kind::kError:
      return "kError";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// parse_args: success

TEST(ParseArgsTest, DefaultsWithOnlyRequiredFlags) {
  ParseOutcome out = parse({"--listen", "0.0.0.0:9000", "--data-dir", "/var/lib/ringest"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.error, "");
  const Config& c = out.config;
  const Config defaults;
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9000);
  EXPECT_EQ(c.data_dir, "/var/lib/ringest");
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.max_upload_bytes, uint64_t{1} << 40);
  EXPECT_EQ(c.checkpoint_bytes, uint64_t{64} << 20);
  EXPECT_EQ(c.buffer_bytes, 256u << 10);
  EXPECT_EQ(c.buffers_per_reactor, 64u);
  EXPECT_EQ(c.buffers_per_connection, 4u);
  EXPECT_EQ(c.max_connections, 1024u);
  EXPECT_EQ(c.max_head_bytes, 8192u);
  EXPECT_EQ(c.max_headers, 64u);
  EXPECT_EQ(c.shutdown_timeout_ms, 10000u);
  // The documented defaults are the struct's defaults.
  EXPECT_EQ(c.threads, defaults.threads);
  EXPECT_EQ(c.buffer_bytes, defaults.buffer_bytes);
  EXPECT_EQ(c.max_upload_bytes, defaults.max_upload_bytes);
  EXPECT_EQ(c.max_append_bytes, 0u);  // no cap on one append unless asked
}

TEST(ParseArgsTest, AllFlagsSeparateValues) {
  ParseOutcome out = parse({"--listen",
                            "10.1.2.3:8443",
                            "--data-dir",
                            "/data",
                            "--threads",
                            "3",
                            "--max-upload-bytes",
                            "2G",
                            "--max-append-bytes",
                            "100M",
                            "--checkpoint-bytes",
                            "8M",
                            "--buffer-bytes",
                            "128K",
                            "--buffers",
                            "32",
                            "--buffers-per-connection",
                            "8",
                            "--max-connections",
                            "500",
                            "--max-head-bytes",
                            "16K",
                            "--max-headers",
                            "100",
                            "--shutdown-timeout-ms",
                            "2500"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  const Config& c = out.config;
  EXPECT_EQ(c.listen_host, "10.1.2.3");
  EXPECT_EQ(c.listen_port, 8443);
  EXPECT_EQ(c.data_dir, "/data");
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.max_upload_bytes, uint64_t{2} << 30);
  EXPECT_EQ(c.max_append_bytes, uint64_t{100} << 20);
  EXPECT_EQ(c.checkpoint_bytes, uint64_t{8} << 20);
  EXPECT_EQ(c.buffer_bytes, 128u << 10);
  EXPECT_EQ(c.buffers_per_reactor, 32u);
  EXPECT_EQ(c.buffers_per_connection, 8u);
  EXPECT_EQ(c.max_connections, 500u);
  EXPECT_EQ(c.max_head_bytes, 16u << 10);
  EXPECT_EQ(c.max_headers, 100u);
  EXPECT_EQ(c.shutdown_timeout_ms, 2500u);
}

TEST(ParseArgsTest, AllFlagsWithEquals) {
  ParseOutcome out =
      parse({"--listen=127.0.0.1:0", "--data-dir=/d=x", "--threads=256", "--max-upload-bytes=1000",
             "--checkpoint-bytes=4096", "--buffer-bytes=64M", "--buffers=65536",
             "--buffers-per-connection=16", "--max-connections=1048576", "--max-head-bytes=1K",
             "--max-headers=8", "--shutdown-timeout-ms=0"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  const Config& c = out.config;
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 0);
  EXPECT_EQ(c.data_dir, "/d=x");  // only the first '=' separates
  EXPECT_EQ(c.threads, 256);
  EXPECT_EQ(c.max_upload_bytes, 1000u);
  EXPECT_EQ(c.checkpoint_bytes, 4096u);
  EXPECT_EQ(c.buffer_bytes, 64u << 20);
  EXPECT_EQ(c.buffers_per_reactor, 65536u);
  EXPECT_EQ(c.buffers_per_connection, 16u);
  EXPECT_EQ(c.max_connections, 1u << 20);
  EXPECT_EQ(c.max_head_bytes, 1024u);
  EXPECT_EQ(c.max_headers, 8u);
  EXPECT_EQ(c.shutdown_timeout_ms, 0u);
}

TEST(ParseArgsTest, MixedFormsAndLaterFlagWins) {
  ParseOutcome out = parse({"--data-dir=/a", "--listen", "localhost:65535", "--threads", "2",
                            "--threads=5", "--data-dir", "/b"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.listen_host, "localhost");
  EXPECT_EQ(out.config.listen_port, 65535);
  EXPECT_EQ(out.config.threads, 5);
  EXPECT_EQ(out.config.data_dir, "/b");
}

TEST(ParseArgsTest, BuffersPerConnectionMayEqualBuffers) {
  ParseOutcome out = parse(
      {"--listen", "h:1", "--data-dir", "d", "--buffers", "4", "--buffers-per-connection", "4"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.buffers_per_reactor, 4u);
  EXPECT_EQ(out.config.buffers_per_connection, 4u);
}

TEST(ParseArgsTest, Help) {
  for (auto args :
       {std::initializer_list<const char*>{"--help"}, std::initializer_list<const char*>{"-h"},
        std::initializer_list<const char*>{"--listen", "h:1", "--help"},
        std::initializer_list<const char*>{"--help", "--bogus"}}) {
    ParseOutcome out = parse(args);
    EXPECT_EQ(out.kind, ParseOutcome::Kind::kHelp) << kind_name(out.kind) << " " << out.error;
  }
  std::string usage = usage_text();
  EXPECT_NE(usage.find("--listen"), std::string::npos);
  EXPECT_NE(usage.find("--data-dir"), std::string::npos);
  EXPECT_NE(usage.find("--buffers-per-connection"), std::string::npos);
  EXPECT_NE(usage.find("--max-append-bytes"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// parse_args: errors, each naming the flag at fault

struct ErrorCase {
  std::vector<const char*> args;
  const char* names;  // the error message must contain this
};

TEST(ParseArgsTest, InvalidCommandLinesNameTheFlag) {
  const std::vector<ErrorCase> cases = {
      {{}, "--listen"},
      {{"--listen", "h:1"}, "--data-dir"},
      {{"--data-dir", "d"}, "--listen"},
      {{"--listen", "h:1", "--data-dir", "d", "--bogus", "x"}, "--bogus"},
      {{"--listen", "h:1", "--data-dir", "d", "--bogus=x"}, "--bogus"},
      {{"--listen", "h:1", "--data-dir", "d", "bogus", "x"}, "bogus"},
      {{"--listen"}, "--listen"},
      {{"--listen", "h:1", "--data-dir"}, "--data-dir"},
      {{"--listen", "h:1", "--data-dir", "d", "--threads"}, "--threads"},
      {{"--listen", "h:abc", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h:65536", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h:99999999999", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h:-1", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h:80x", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h:", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h", "--data-dir", "d"}, "--listen"},
      {{"--listen", ":8080", "--data-dir", "d"}, "--listen"},
      {{"--listen=", "--data-dir", "d"}, "--listen"},
      {{"--listen", "h:1", "--data-dir="}, "--data-dir"},
      {{"--listen", "h:1", "--data-dir", "d", "--threads", "0"}, "--threads"},
      {{"--listen", "h:1", "--data-dir", "d", "--threads", "257"}, "--threads"},
      {{"--listen", "h:1", "--data-dir", "d", "--threads", "-1"}, "--threads"},
      {{"--listen", "h:1", "--data-dir", "d", "--threads", "two"}, "--threads"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-upload-bytes", "1X"}, "--max-upload-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-upload-bytes", "1KB"}, "--max-upload-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-upload-bytes", "99999999T"},
       "--max-upload-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-append-bytes", "1X"}, "--max-append-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-append-bytes", "-1"}, "--max-append-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--checkpoint-bytes", "64Q"}, "--checkpoint-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--checkpoint-bytes", "4095"}, "--checkpoint-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffer-bytes", "20000"}, "--buffer-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffer-bytes", "65537K"}, "--buffer-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffer-bytes", "12K"}, "--buffer-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffer-bytes", "128M"}, "--buffer-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffers", "3"}, "--buffers"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffers-per-connection", "0"},
       "--buffers-per-connection"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffers-per-connection", "17"},
       "--buffers-per-connection"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffers", "4", "--buffers-per-connection", "5"},
       "--buffers-per-connection"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffers-per-connection", "8", "--buffers", "6"},
       "--buffers-per-connection"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-connections", "0"}, "--max-connections"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-head-bytes", "512"}, "--max-head-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-head-bytes", "2M"}, "--max-head-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--buffer-bytes", "16K", "--max-head-bytes", "16K"},
       "--max-head-bytes"},
      {{"--listen", "h:1", "--data-dir", "d", "--max-headers", "7"}, "--max-headers"},
      {{"--listen", "h:1", "--data-dir", "d", "--shutdown-timeout-ms", "3600001"},
       "--shutdown-timeout-ms"},
  };
  for (const ErrorCase& c : cases) {
    std::vector<const char*> argv = {"ringestd"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    std::string line;
    for (const char* a : c.args) line += std::string(a) + " ";
    ParseOutcome out = parse_args(static_cast<int>(argv.size()), argv.data());
    EXPECT_EQ(out.kind, ParseOutcome::Kind::kError) << "args: " << line;
    EXPECT_NE(out.error.find(c.names), std::string::npos)
        << "args: " << line << "\nerror: '" << out.error << "' should name " << c.names;
    EXPECT_EQ(out.error.find('\n'), std::string::npos) << "one line: " << out.error;
  }
}

// ---------------------------------------------------------------------------------------------
// parse_size

TEST(ParseSizeTest, Accepts) {
  struct Case {
    const char* text;
    uint64_t value;
  };
  const Case cases[] = {
      {"0", 0},
      {"1", 1},
      {"4096", 4096},
      {"1K", 1024},
      {"1k", 1024},
      {"64M", uint64_t{64} << 20},
      {"64m", uint64_t{64} << 20},
      {"2G", uint64_t{2} << 30},
      {"2g", uint64_t{2} << 30},
      {"1T", uint64_t{1} << 40},
      {"3t", uint64_t{3} << 40},
      {"0T", 0},
      {"18446744073709551615", UINT64_MAX},
      {"16777215T", uint64_t{16777215} << 40},
      {"17179869183G", uint64_t{17179869183} << 30},
      {"18014398509481983K", uint64_t{18014398509481983} << 10},
      {"17592186044415M", uint64_t{17592186044415} << 20},
  };
  for (const Case& c : cases) {
    uint64_t v = 12345;
    EXPECT_TRUE(parse_size(c.text, &v)) << c.text;
    EXPECT_EQ(v, c.value) << c.text;
  }
}

TEST(ParseSizeTest, Rejects) {
  const char* cases[] = {
      "",
      "K",
      "-1",
      "+1",
      " 1",
      "1 ",
      "1KB",
      "1KK",
      "1X",
      "1.5M",
      "0x10",
      "1e3",
      "18446744073709551616",  // 2^64
      "99999999999999999999999",
      "16777216T",           // 2^24 << 40 == 2^64
      "17179869184G",        // 2^34 << 30 == 2^64
      "18014398509481984K",  // 2^54 << 10 == 2^64
      "17592186044416M",     // 2^44 << 20 == 2^64
  };
  for (const char* text : cases) {
    uint64_t v = 0;
    EXPECT_FALSE(parse_size(text, &v)) << "'" << text << "' parsed as " << v;
  }
}

// The upload page: on by default with the compile-time directory; --no-ui takes no value.
TEST(ParseArgsTest, UploadPageFlags) {
  const char* plain[] = {"ringestd", "--listen", "h:1", "--data-dir", "d"};
  ParseOutcome out = parse_args(5, plain);
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun);
  EXPECT_TRUE(out.config.ui_enabled);
  EXPECT_EQ(out.config.ui_dir, "");

  const char* off[] = {"ringestd", "--no-ui", "--listen", "h:1", "--data-dir", "d"};
  out = parse_args(6, off);
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_FALSE(out.config.ui_enabled);
  EXPECT_EQ(out.config.listen_port, 1);

  const char* dir[] = {"ringestd", "--listen", "h:1", "--data-dir", "d", "--ui-dir=/srv/ui"};
  out = parse_args(6, dir);
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.ui_dir, "/srv/ui");

  const char* empty[] = {"ringestd", "--listen", "h:1", "--data-dir", "d", "--ui-dir="};
  out = parse_args(6, empty);
  EXPECT_EQ(out.kind, ParseOutcome::Kind::kError);
  EXPECT_NE(out.error.find("--ui-dir"), std::string::npos);
}

}  // namespace
}  // namespace ringest

namespace ringest {
namespace {

TEST(ParseArgsTest, DiskBudgetFlags) {
  ParseOutcome d = parse({"--listen", "127.0.0.1:1", "--data-dir", "d"});
  ASSERT_EQ(d.kind, ParseOutcome::Kind::kRun) << d.error;
  EXPECT_EQ(d.config.min_free_bytes, uint64_t{256} << 20);
  EXPECT_EQ(d.config.min_free_percent, 2u);
  EXPECT_EQ(d.config.max_uploads_per_client, 64u);
  EXPECT_EQ(d.config.max_bytes_per_client, Config::kAutoClientBytes);
  ParseOutcome out = parse({"--listen", "127.0.0.1:1", "--data-dir", "d", "--min-free-bytes", "1G",
                            "--min-free-percent=5", "--max-uploads-per-client", "0",
                            "--max-bytes-per-client=10G"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.min_free_bytes, uint64_t{1} << 30);
  EXPECT_EQ(out.config.min_free_percent, 5u);
  EXPECT_EQ(out.config.max_uploads_per_client, 0u);
  EXPECT_EQ(out.config.max_bytes_per_client, uint64_t{10} << 30);
  EXPECT_EQ(parse({"--listen", "127.0.0.1:1", "--data-dir", "d", "--max-bytes-per-client", "0"})
                .config.max_bytes_per_client,
            0u);
  for (auto bad : {std::vector<const char*>{"--min-free-bytes", "lots"},
                   std::vector<const char*>{"--min-free-percent", "91"},
                   std::vector<const char*>{"--min-free-percent", "-1"},
                   std::vector<const char*>{"--max-uploads-per-client", "x"},
                   std::vector<const char*>{"--max-bytes-per-client", "1Q"}}) {
    std::vector<const char*> argv = {"ringestd", "--listen", "127.0.0.1:1", "--data-dir", "d", bad[0],
                                     bad[1], nullptr};
    ParseOutcome e = parse_args(static_cast<int>(argv.size() - 1), argv.data());
    EXPECT_EQ(e.kind, ParseOutcome::Kind::kError) << bad[0] << " " << bad[1];
    EXPECT_NE(e.error.find(bad[0]), std::string::npos) << e.error;
  }
  EXPECT_NE(std::string(usage_text()).find("--min-free-bytes"), std::string::npos);
  EXPECT_NE(std::string(usage_text()).find("--max-uploads-per-client"), std::string::npos);
}

}  // namespace
}  // namespace ringest
