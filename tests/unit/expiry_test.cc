// Proves the pure parts of expiry: --expire-after and --finished-retention parse into the Config
// (defaults 7d and 0, 0 disables, bad values name the flag); the policy computes an upload's
// deadline from its last commit and completeness, and its sweep period stays within bounds; an
// upload that a request owns is never expired nor claimed; the collector's claim refuses pinned
// partials and uploads whose finished event is held; and the remembered expired ids are bounded,
// forgetting the oldest first.
#include "engine/upload/expiry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/base/config.h"

namespace ringest {
namespace {

ParseOutcome parse(std::vector<const char*> extra) {
  std::vector<const char*> argv = {"ringestd", "--listen", "h:1", "--data-dir", "d"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return parse_args(static_cast<int>(argv.size()), argv.data());
}

TEST(ExpiryFlagsTest, DefaultsExpireUnfinishedAfterSevenDaysAndKeepFinished) {
  ParseOutcome out = parse({});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.expire_after_ms, uint64_t{7} * 86400 * 1000);
  EXPECT_EQ(out.config.finished_retention_ms, 0u);
  ExpiryPolicy policy = expiry_policy_of(out.config);
  EXPECT_TRUE(policy.enabled());
}

TEST(ExpiryFlagsTest, ParsesDurationsAndZeroDisables) {
  ParseOutcome out = parse({"--expire-after", "300ms", "--finished-retention=2h"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.expire_after_ms, 300u);
  EXPECT_EQ(out.config.finished_retention_ms, uint64_t{2} * 3600 * 1000);
  out = parse({"--expire-after", "0", "--finished-retention", "0"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_FALSE(expiry_policy_of(out.config).enabled());
  out = parse({"--expire-after", "0", "--finished-retention", "30d"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_TRUE(expiry_policy_of(out.config).enabled());
}

TEST(ExpiryFlagsTest, RejectsBadDurationsNamingTheFlag) {
  for (const char* flag : {"--expire-after", "--finished-retention"}) {
    for (const char* value : {"", "-1", "7w", "1.5d", "abc", "3651d", "99999999999999999999"}) {
      ParseOutcome out = parse({flag, value});
      EXPECT_EQ(out.kind, ParseOutcome::Kind::kError) << flag << " " << value;
      EXPECT_NE(out.error.find(flag), std::string::npos) << out.error;
    }
  }
}

TEST(ExpiryPolicyTest, DeadlineFromLastCommitAndCompleteness) {
  ExpiryPolicy policy{1000, 0};
  EXPECT_EQ(policy.expires_unix_ms(false, 5000), 6000u);
  EXPECT_EQ(policy.expires_unix_ms(true, 5000), 0u);  // finished: kept
  policy.finished_ms = 250;
  EXPECT_EQ(policy.expires_unix_ms(true, 5000), 5250u);
  policy.unfinished_ms = 0;
  EXPECT_EQ(policy.expires_unix_ms(false, 5000), 0u);
  policy.finished_ms = UINT64_MAX;  // no wrap-around
  EXPECT_EQ(policy.expires_unix_ms(true, 5000), UINT64_MAX);
}

TEST(ExpiryPolicyTest, SweepPeriodIsAQuarterOfTheShorterWithinBounds) {
  EXPECT_EQ((ExpiryPolicy{4000, 0}).sweep_period_ms(), 1000u);
  EXPECT_EQ((ExpiryPolicy{8000, 2000}).sweep_period_ms(), 500u);
  EXPECT_EQ((ExpiryPolicy{0, 2000}).sweep_period_ms(), 500u);
  EXPECT_EQ((ExpiryPolicy{100, 0}).sweep_period_ms(), ExpiryPolicy::kMinSweepMs);
  EXPECT_EQ((ExpiryPolicy{uint64_t{7} * 86400000, 0}).sweep_period_ms(),
            ExpiryPolicy::kMaxSweepMs);
}

// An unfinished upload last written at 1000 (Unix ms); the policy expires it 100 ms later.
struct Fixture {
  Upload upload;
  ExpiryPolicy policy{100, 0};
  UploadOwner request{nullptr, reinterpret_cast<Completion*>(0x10), 1};
  UploadOwner collector{nullptr, reinterpret_cast<Completion*>(0x20), 1};
  Fixture() {
    upload.length = 10;
    upload.committed_offset = 3;
    upload.updated_unix_ms = 1000;
  }
};

TEST(ExpiryClaimTest, ExpiredOnlyAfterTheDeadline) {
  Fixture f;
  EXPECT_FALSE(upload_expired(f.upload, f.policy, 1099));
  EXPECT_TRUE(upload_expired(f.upload, f.policy, 1100));
  EXPECT_FALSE(upload_expired(f.upload, ExpiryPolicy{}, 999999));  // off
}

TEST(ExpiryClaimTest, AnOwnedUploadIsNeitherExpiredNorClaimed) {
  Fixture f;
  ASSERT_EQ(acquire_upload(f.upload, f.request).result, AcquireOutcome::Result::kAcquired);
  EXPECT_FALSE(upload_expired(f.upload, f.policy, 5000));
  EXPECT_FALSE(claim_expired_upload(f.upload, f.policy, 5000, f.collector));
  release_upload(f.upload, f.request);
  EXPECT_TRUE(claim_expired_upload(f.upload, f.policy, 5000, f.collector));
  // Now the collector owns it: a request that comes waits (and asks the collector to let go,
  // which it ignores), then is handed the upload.
  AcquireOutcome out = acquire_upload(f.upload, f.request);
  EXPECT_EQ(out.result, AcquireOutcome::Result::kWait);
  EXPECT_TRUE(out.send_abort && out.abort_target.same_as(f.collector));
  ReleaseOutcome released = release_upload(f.upload, f.collector);
  EXPECT_TRUE(released.send_handoff && released.handoff_to.same_as(f.request));
}

TEST(ExpiryClaimTest, PinnedHeldOrDeletedUploadsAreNotClaimed) {
  Fixture f;
  f.upload.final_refs = 1;  // a live final lists it
  EXPECT_FALSE(claim_expired_upload(f.upload, f.policy, 5000, f.collector));
  f.upload.final_refs = 0;
  f.upload.events_hold.store(true);  // its finished event is not delivered yet
  EXPECT_FALSE(claim_expired_upload(f.upload, f.policy, 5000, f.collector));
  f.upload.events_hold.store(false);
  f.upload.deleted = true;
  EXPECT_FALSE(claim_expired_upload(f.upload, f.policy, 5000, f.collector));
  f.upload.deleted = false;
  EXPECT_TRUE(claim_expired_upload(f.upload, f.policy, 5000, f.collector));
}

TEST(ExpiryClaimTest, FinishedUploadsUseTheRetention) {
  Fixture f;
  f.upload.committed_offset = 10;  // complete
  EXPECT_FALSE(claim_expired_upload(f.upload, f.policy, 999999, f.collector));  // kept for ever
  f.policy.finished_ms = 50;
  EXPECT_FALSE(claim_expired_upload(f.upload, f.policy, 1049, f.collector));
  EXPECT_TRUE(claim_expired_upload(f.upload, f.policy, 1050, f.collector));
}

std::string id_of(int i) {
  std::string id = std::to_string(i);
  return std::string(32 - id.size(), 'a') + id;
}

TEST(ExpiredIdsTest, BoundedAndForgetsTheOldestFirst) {
  ExpiredIds ids(3);
  EXPECT_FALSE(ids.contains(id_of(1)));
  for (int i = 1; i <= 3; ++i) ids.add(id_of(i));
  ids.add(id_of(2));  // twice: still one entry
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(ids.contains(id_of(i))) << i;
  ids.add(id_of(4));
  EXPECT_FALSE(ids.contains(id_of(1)));
  for (int i = 2; i <= 4; ++i) EXPECT_TRUE(ids.contains(id_of(i))) << i;
  for (int i = 5; i <= 100; ++i) ids.add(id_of(i));
  EXPECT_FALSE(ids.contains(id_of(97)));
  for (int i = 98; i <= 100; ++i) EXPECT_TRUE(ids.contains(id_of(i))) << i;
}

}  // namespace
}  // namespace ringest
