// Proves the one-writer-at-a-time rules of acquire/release/abandon_upload, the message encoding
// between reactors, and the reference counting of Upload through UploadRegistry.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "engine/io/completion.h"
#include "engine/upload/file_cache.h"
#include "engine/upload/registry.h"
#include "engine/upload/upload.h"

namespace ringest {
namespace {

using Result = AcquireOutcome::Result;

bool same(const UploadOwner& a, const UploadOwner& b) { return a.same_as(b); }

class UploadOwnershipTest : public ::testing::Test {
 protected:
  Upload upload_;  // on the stack: data_fd/record_fd stay -1
  Completion c1_, c2_, c3_;
  UploadOwner first_{nullptr, &c1_, 1};
  UploadOwner second_{nullptr, &c2_, 7};
  UploadOwner third_{nullptr, &c3_, 9};
};

TEST_F(UploadOwnershipTest, SameAsComparesMailboxAndGeneration) {
  EXPECT_TRUE(first_.same_as(UploadOwner{nullptr, &c1_, 1}));
  EXPECT_FALSE(first_.same_as(UploadOwner{nullptr, &c1_, 2}));  // a later request, same conn
  EXPECT_FALSE(first_.same_as(UploadOwner{nullptr, &c2_, 1}));
}

TEST_F(UploadOwnershipTest, FirstAcquireOwns) {
  AcquireOutcome out = acquire_upload(upload_, first_);
  EXPECT_EQ(out.result, Result::kAcquired);
  EXPECT_FALSE(out.send_abort);
  EXPECT_FALSE(out.send_superseded);
  EXPECT_TRUE(upload_.has_owner);
  EXPECT_TRUE(same(upload_.owner, first_));
  EXPECT_FALSE(upload_.has_waiter);
}

TEST_F(UploadOwnershipTest, SecondAcquireWaitsAndAbortsTheOwner) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  AcquireOutcome out = acquire_upload(upload_, second_);
  EXPECT_EQ(out.result, Result::kWait);
  EXPECT_TRUE(out.send_abort);
  EXPECT_TRUE(same(out.abort_target, first_));
  EXPECT_FALSE(out.send_superseded);
  EXPECT_TRUE(same(upload_.owner, first_)) << "the owner keeps the upload until it lets go";
  EXPECT_TRUE(upload_.has_waiter);
  EXPECT_TRUE(same(upload_.waiter, second_));
}

TEST_F(UploadOwnershipTest, SameConnectionNewGenerationWaitsToo) {
  UploadOwner later{nullptr, &c1_, 2};
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  AcquireOutcome out = acquire_upload(upload_, later);
  EXPECT_EQ(out.result, Result::kWait);
  EXPECT_TRUE(same(out.abort_target, first_));
}

TEST_F(UploadOwnershipTest, ThirdAcquireReplacesTheWaiter) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ASSERT_EQ(acquire_upload(upload_, second_).result, Result::kWait);
  AcquireOutcome out = acquire_upload(upload_, third_);
  EXPECT_EQ(out.result, Result::kWait);
  EXPECT_TRUE(out.send_superseded);
  EXPECT_TRUE(same(out.superseded, second_));
  EXPECT_TRUE(out.send_abort);
  EXPECT_TRUE(same(out.abort_target, first_));
  EXPECT_TRUE(same(upload_.owner, first_));
  EXPECT_TRUE(same(upload_.waiter, third_));

  // The superseded request going away must not disturb the new waiter.
  ReleaseOutcome gone = abandon_upload(upload_, second_);
  EXPECT_FALSE(gone.send_handoff);
  EXPECT_TRUE(upload_.has_waiter);
  EXPECT_TRUE(same(upload_.waiter, third_));
  EXPECT_TRUE(same(upload_.owner, first_));
}

TEST_F(UploadOwnershipTest, ReleaseWithoutWaiterFreesTheUpload) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ReleaseOutcome out = release_upload(upload_, first_);
  EXPECT_FALSE(out.send_handoff);
  EXPECT_FALSE(upload_.has_owner);
  // Anyone can take it now.
  EXPECT_EQ(acquire_upload(upload_, second_).result, Result::kAcquired);
  EXPECT_TRUE(same(upload_.owner, second_));
}

TEST_F(UploadOwnershipTest, ReleaseHandsOffToTheWaiter) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ASSERT_EQ(acquire_upload(upload_, second_).result, Result::kWait);
  ReleaseOutcome out = release_upload(upload_, first_);
  EXPECT_TRUE(out.send_handoff);
  EXPECT_TRUE(same(out.handoff_to, second_));
  EXPECT_TRUE(upload_.has_owner);
  EXPECT_TRUE(same(upload_.owner, second_));
  EXPECT_FALSE(upload_.has_waiter);

  // The new owner releases in turn; nobody is waiting.
  ReleaseOutcome next = release_upload(upload_, second_);
  EXPECT_FALSE(next.send_handoff);
  EXPECT_FALSE(upload_.has_owner);
}

TEST_F(UploadOwnershipTest, ReleaseHandsOffToTheLatestWaiterOnly) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ASSERT_EQ(acquire_upload(upload_, second_).result, Result::kWait);
  ASSERT_EQ(acquire_upload(upload_, third_).result, Result::kWait);
  ReleaseOutcome out = release_upload(upload_, first_);
  EXPECT_TRUE(out.send_handoff);
  EXPECT_TRUE(same(out.handoff_to, third_));
  EXPECT_TRUE(same(upload_.owner, third_));
}

TEST_F(UploadOwnershipTest, AbandonByWaiterRemovesIt) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ASSERT_EQ(acquire_upload(upload_, second_).result, Result::kWait);
  ReleaseOutcome out = abandon_upload(upload_, second_);
  EXPECT_FALSE(out.send_handoff);
  EXPECT_FALSE(upload_.has_waiter);
  EXPECT_TRUE(same(upload_.owner, first_));
  // The owner's release no longer hands off to anyone.
  ReleaseOutcome release = release_upload(upload_, first_);
  EXPECT_FALSE(release.send_handoff);
  EXPECT_FALSE(upload_.has_owner);
}

TEST_F(UploadOwnershipTest, AbandonByOwnerReleases) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ASSERT_EQ(acquire_upload(upload_, second_).result, Result::kWait);
  ReleaseOutcome out = abandon_upload(upload_, first_);
  EXPECT_TRUE(out.send_handoff);
  EXPECT_TRUE(same(out.handoff_to, second_));
  EXPECT_TRUE(same(upload_.owner, second_));

  ReleaseOutcome last = abandon_upload(upload_, second_);
  EXPECT_FALSE(last.send_handoff);
  EXPECT_FALSE(upload_.has_owner);
}

TEST_F(UploadOwnershipTest, AbandonByStrangerChangesNothing) {
  // Nobody owns it.
  ReleaseOutcome none = abandon_upload(upload_, first_);
  EXPECT_FALSE(none.send_handoff);
  EXPECT_FALSE(upload_.has_owner);

  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  ASSERT_EQ(acquire_upload(upload_, second_).result, Result::kWait);
  ReleaseOutcome out = abandon_upload(upload_, third_);
  EXPECT_FALSE(out.send_handoff);
  EXPECT_TRUE(same(upload_.owner, first_));
  EXPECT_TRUE(same(upload_.waiter, second_));
  // An old generation of the owner's connection is a stranger too.
  abandon_upload(upload_, UploadOwner{nullptr, &c1_, 0});
  EXPECT_TRUE(upload_.has_owner);
  EXPECT_TRUE(same(upload_.owner, first_));
}

TEST_F(UploadOwnershipTest, DeletedUploadCannotBeAcquired) {
  upload_.deleted = true;
  AcquireOutcome out = acquire_upload(upload_, first_);
  EXPECT_EQ(out.result, Result::kDeleted);
  EXPECT_FALSE(out.send_abort);
  EXPECT_FALSE(out.send_superseded);
  EXPECT_FALSE(upload_.has_owner);
  EXPECT_FALSE(upload_.has_waiter);
}

TEST_F(UploadOwnershipTest, DeletedWhileOwnedRejectsNewcomers) {
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  upload_.deleted = true;
  AcquireOutcome out = acquire_upload(upload_, second_);
  EXPECT_EQ(out.result, Result::kDeleted);
  EXPECT_FALSE(out.send_abort);
  EXPECT_FALSE(upload_.has_waiter);
  EXPECT_FALSE(release_upload(upload_, first_).send_handoff);
}

using UploadOwnershipDeathTest = UploadOwnershipTest;

TEST_F(UploadOwnershipDeathTest, ReleaseByNonOwnerIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  EXPECT_DEATH(release_upload(upload_, second_), "check failed");
}

TEST_F(UploadOwnershipDeathTest, AcquireByTheOwnerAgainIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_EQ(acquire_upload(upload_, first_).result, Result::kAcquired);
  EXPECT_DEATH(acquire_upload(upload_, first_), "check failed");
}

// ---------------------------------------------------------------------------------------------
// Messages

TEST(UploadMessageTest, EncodeDecode) {
  for (UploadMessage kind :
       {UploadMessage::kAbort, UploadMessage::kHandoff, UploadMessage::kSuperseded}) {
    for (uint32_t generation : {0u, 1u, 12345u, 0x0FFFFFFFu}) {
      uint32_t payload = encode_message(kind, generation);
      EXPECT_EQ(message_kind(payload), kind);
      EXPECT_EQ(message_generation(payload), generation);
      EXPECT_TRUE(generation_matches(payload, generation));
      EXPECT_FALSE(generation_matches(payload, generation + 1));
    }
  }
  // Generations wrap at 28 bits on both sides of the comparison.
  uint32_t payload = encode_message(UploadMessage::kHandoff, 0x10000005u);
  EXPECT_EQ(message_kind(payload), UploadMessage::kHandoff);
  EXPECT_EQ(message_generation(payload), 5u);
  EXPECT_TRUE(generation_matches(payload, 0x10000005u));
  EXPECT_TRUE(generation_matches(payload, 5u));
  EXPECT_EQ(encode_message(UploadMessage::kAbort, 3), (1u << 28) | 3u);
  EXPECT_EQ(encode_message(UploadMessage::kSuperseded, 0), 3u << 28);
}

// ---------------------------------------------------------------------------------------------
// Registry and reference counts

// A 32-character id from a short name ("a" -> "aaaa...a").
std::string id_of(const std::string& name) {
  std::string id;
  while (id.size() < 32) id += name;
  return id.substr(0, 32);
}

Upload* new_upload(const std::string& name) {
  auto* u = new Upload;
  std::string id = id_of(name);
  std::memcpy(u->id_chars, id.data(), 32);
  return u;
}

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(UploadRegistryTest, InsertFindRemoveWithRefcounts) {
  UploadRegistry registry;
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.find(id_of("a")), nullptr);

  Upload* a = new_upload("a");
  EXPECT_EQ(a->refs.load(), 1);
  registry.insert(a);
  EXPECT_EQ(a->refs.load(), 2) << "the registry takes its own reference";
  EXPECT_EQ(registry.size(), 1u);

  Upload* found = registry.find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(found, a);
  EXPECT_EQ(a->refs.load(), 3) << "find gives the caller a reference";
  upload_unref(found);
  EXPECT_EQ(a->refs.load(), 2);

  EXPECT_EQ(registry.find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"), nullptr);
  EXPECT_EQ(registry.find("aaaa"), nullptr);
  EXPECT_EQ(registry.find(""), nullptr);
  EXPECT_EQ(a->refs.load(), 2) << "a miss takes no reference";

  registry.remove(a);
  EXPECT_EQ(a->refs.load(), 1);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), nullptr);

  // Removing twice is harmless and drops no further reference.
  registry.remove(a);
  EXPECT_EQ(a->refs.load(), 1);
  upload_unref(a);  // frees (LeakSanitizer checks the sanitizer build)
}

TEST(UploadRegistryTest, SeveralUploads) {
  UploadRegistry registry;
  Upload* a = new_upload("a");
  Upload* b = new_upload("b");
  registry.insert(a);
  registry.insert(b);
  EXPECT_EQ(registry.size(), 2u);
  Upload* fb = registry.find(id_of("b"));
  Upload* fa = registry.find(id_of("a"));
  EXPECT_EQ(fa, a);
  EXPECT_EQ(fb, b);
  upload_unref(fa);
  upload_unref(fb);
  registry.remove(a);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.find(id_of("a")), nullptr);
  Upload* again = registry.find(id_of("b"));
  EXPECT_EQ(again, b);
  upload_unref(again);
  registry.remove(b);
  upload_unref(a);
  upload_unref(b);
}

TEST(UploadRegistryTest, RemoveOfAnotherObjectWithTheSameIdIsIgnored) {
  UploadRegistry registry;
  Upload* live = new_upload("same");
  Upload* stale = new_upload("same");
  registry.insert(live);
  registry.remove(stale);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(live->refs.load(), 2);
  EXPECT_EQ(stale->refs.load(), 1);
  Upload* found = registry.find(id_of("same"));
  EXPECT_EQ(found, live);
  upload_unref(found);
  registry.remove(live);
  upload_unref(live);
  upload_unref(stale);
}

TEST(UploadRegistryTest, DestructorDropsTheRegistryReferences) {
  Upload* a = new_upload("a");
  {
    UploadRegistry registry;
    registry.insert(a);
    EXPECT_EQ(a->refs.load(), 2);
  }
  EXPECT_EQ(a->refs.load(), 1);
  upload_unref(a);
}

TEST(UploadRefTest, RegistryHoldsTheUploadAlive) {
  Upload* u = new_upload("held");
  UploadRegistry registry;
  registry.insert(u);
  upload_unref(u);  // the creator lets go; the registry still holds it
  Upload* found = registry.find(id_of("held"));
  ASSERT_EQ(found, u);
  EXPECT_EQ(found->refs.load(), 2);
  registry.remove(found);
  EXPECT_EQ(found->refs.load(), 1) << "the finder still holds a reference";
  upload_unref(found);  // frees (LeakSanitizer checks the sanitizer build)
}

// ---------------------------------------------------------------------------------------------
// File cache: bounded, least recently used first, never closes what an owner holds

UploadFiles pipe_files() {
  int a[2], b[2];
  EXPECT_EQ(::pipe(a), 0);
  EXPECT_EQ(::pipe(b), 0);
  ::close(a[1]);
  ::close(b[1]);
  return UploadFiles{a[0], -1, b[0]};
}

TEST(FileCacheTest, TakeGivesBackWhatWasPutAndTheCacheHoldsAReferenceMeanwhile) {
  FileCache cache(4, 60000);
  Upload* u = new_upload("u");
  UploadFiles files = pipe_files();
  UploadFiles evicted[FileCache::kMaxEvictions];
  EXPECT_EQ(cache.put(*u, files, 1000, evicted), 0);
  EXPECT_EQ(u->refs.load(), 2) << "a cached upload cannot be freed under its descriptors";
  EXPECT_EQ(cache.idle_count(), 1u);
  UploadFiles taken;
  ASSERT_TRUE(cache.take(*u, &taken));
  EXPECT_EQ(taken.data_fd, files.data_fd);
  EXPECT_EQ(taken.record_fd, files.record_fd);
  EXPECT_EQ(u->refs.load(), 1);
  EXPECT_EQ(cache.idle_count(), 0u);
  EXPECT_FALSE(cache.take(*u, &taken)) << "an owner holds them now: nothing cached";
  close_upload_files(taken);
  upload_unref(u);
}

TEST(FileCacheTest, PastTheBoundTheLeastRecentlyUsedAreEvicted) {
  FileCache cache(2, 60000);
  Upload* u[3] = {new_upload("a"), new_upload("b"), new_upload("c")};
  UploadFiles files[3] = {pipe_files(), pipe_files(), pipe_files()};
  UploadFiles evicted[FileCache::kMaxEvictions];
  EXPECT_EQ(cache.put(*u[0], files[0], 1, evicted), 0);
  EXPECT_EQ(cache.put(*u[1], files[1], 2, evicted), 0);
  UploadFiles taken;
  ASSERT_TRUE(cache.take(*u[0], &taken));  // used again: now the most recent
  EXPECT_EQ(cache.put(*u[0], taken, 3, evicted), 0);
  ASSERT_EQ(cache.put(*u[2], files[2], 4, evicted), 1);
  EXPECT_EQ(evicted[0].data_fd, files[1].data_fd) << "b was the least recently used";
  EXPECT_EQ(u[1]->refs.load(), 1);
  EXPECT_TRUE(fd_is_open(evicted[0].data_fd)) << "the caller closes what was evicted";
  close_upload_files(evicted[0]);
  EXPECT_FALSE(cache.take(*u[1], &taken));
  EXPECT_EQ(cache.idle_count(), 2u);
  for (Upload* x : u) upload_ref(x);
  {
    FileCache gone(0, 0);  // (a cache that keeps nothing evicts at once)
    EXPECT_EQ(gone.put(*u[1], pipe_files(), 5, evicted), 1);
    close_upload_files(evicted[0]);
  }
  for (Upload* x : u) upload_unref(x);
  for (Upload* x : u) upload_unref(x);  // the cache's destructor closes and drops the rest
}

TEST(FileCacheTest, IdleLongerThanTheLimitIsEvictedByTheNextPut) {
  FileCache cache(100, 1000);
  Upload* old_one = new_upload("o");
  Upload* new_one = new_upload("n");
  UploadFiles evicted[FileCache::kMaxEvictions];
  UploadFiles old_files = pipe_files();
  EXPECT_EQ(cache.put(*old_one, old_files, 10, evicted), 0);
  ASSERT_EQ(cache.put(*new_one, pipe_files(), 1010, evicted), 1);
  EXPECT_EQ(evicted[0].data_fd, old_files.data_fd);
  close_upload_files(evicted[0]);
  UploadFiles dropped;
  ASSERT_TRUE(cache.take(*new_one, &dropped));
  close_upload_files(dropped);
  upload_unref(old_one);
  upload_unref(new_one);
}

}  // namespace
}  // namespace ringest
