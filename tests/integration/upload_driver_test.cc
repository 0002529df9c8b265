// Proves that each upload driver (tests/support/upload_driver.h) speaks its protocol to the real
// ringestd the way the black-box scenarios rely on: creation with a file name, state, appends in
// pieces on one raw head, a conflict that names the server's offset, a refusal, an answer that
// never comes, download, the stored file, and termination. A new driver passes this before the
// fault and durability scenarios run against it.
#include "tests/support/upload_driver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

class UploadDriverContract : public DriverTest {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path() + "/data");
    server_->start();
    port_ = server_->port();
  }
  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_P(UploadDriverContract, CreateAppendConflictDownloadDelete) {
  const UploadDriver& d = driver();
  const std::string data = random_bytes(100000, 1);
  UploadHandle upload = d.create(port_, data.size(), "contract.bin");
  ASSERT_TRUE(upload.valid());
  EXPECT_EQ(upload.length, data.size());
  std::optional<UploadState> state = d.state(port_, upload);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->offset, 0u);
  EXPECT_EQ(state->length,
            d.traits().state_has_length ? std::optional<uint64_t>(data.size()) : std::nullopt);
  EXPECT_EQ(state->file_name, d.traits().state_has_file_name
                                  ? std::optional<std::string>("contract.bin")
                                  : std::nullopt);

  // One append whose body goes out in three pieces.
  {
    Connection c(port_);
    ASSERT_TRUE(c.send_all(d.append_head(upload, 0, 30000)));
    for (size_t at = 0; at < 30000; at += 10000) ASSERT_TRUE(c.send_all(data.substr(at, 10000)));
    AppendOutcome a = d.interpret_append(c.read_response());
    EXPECT_EQ(a.kind, AppendOutcome::Kind::kAccepted) << a;
    EXPECT_TRUE(answer_offset_is(d, a, 30000));
  }
  EXPECT_EQ(d.offset(port_, upload), 30000u);
  EXPECT_FALSE(d.download(port_, upload)) << "an unfinished upload is not served";

  // A stale offset is a conflict that names where the server is, and changes nothing.
  AppendOutcome stale = d.append(port_, upload, 0, data.substr(0, 100));
  EXPECT_EQ(stale.kind, AppendOutcome::Kind::kConflict) << stale;
  EXPECT_TRUE(answer_offset_is(d, stale, 30000));
  EXPECT_EQ(d.offset(port_, upload), 30000u);

  // A body that would pass the declared length is refused before anything is stored.
  AppendOutcome too_long = d.append(port_, upload, 30000, data.substr(30000) + "x");
  EXPECT_EQ(too_long.kind, AppendOutcome::Kind::kRefused) << too_long;
  EXPECT_EQ(d.offset(port_, upload), 30000u);

  AppendOutcome rest = d.append(port_, upload, 30000, data.substr(30000));
  EXPECT_EQ(rest.kind, AppendOutcome::Kind::kAccepted) << rest;
  EXPECT_TRUE(answer_offset_is(d, rest, data.size()));
  EXPECT_EQ(d.offset(port_, upload), data.size());
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
  EXPECT_EQ(sha256_file(d.data_file(server_->data_dir(), upload)), sha256_hex(data));
  EXPECT_EQ(d.upload_id(upload).size(), 32u);

  EXPECT_TRUE(d.remove(port_, upload));
  EXPECT_FALSE(d.state(port_, upload)) << "a terminated upload has no state";
  EXPECT_FALSE(d.remove(port_, upload));
}

TEST_P(UploadDriverContract, NoAnswerAndCutAppendsAreClassified) {
  const UploadDriver& d = driver();
  EXPECT_EQ(d.interpret_append(std::nullopt).kind, AppendOutcome::Kind::kNoResponse);
  const std::string data = random_bytes(5000, 2);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  {
    Connection c(port_);
    ASSERT_TRUE(c.send_all(d.append_head(upload, 0, data.size())));
    ASSERT_TRUE(c.send_all(data.substr(0, 1000)));
  }  // gone mid-body
  const uint64_t expected = d.offset_after_cut(0, 1000);
  std::optional<uint64_t> offset;
  for (int i = 0; i < 500 && offset != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    offset = d.offset(port_, upload);
  }
  EXPECT_EQ(offset, expected);
  EXPECT_EQ(d.append(port_, upload, expected, data.substr(expected)).kind,
            AppendOutcome::Kind::kAccepted);
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
}

TEST_P(UploadDriverContract, UnknownUploadHasNoState) {
  const UploadDriver& d = driver();
  UploadHandle upload = d.create(port_, 10);
  ASSERT_TRUE(upload.valid());
  ASSERT_TRUE(d.remove(port_, upload));
  EXPECT_FALSE(d.offset(port_, upload));
  EXPECT_FALSE(d.download(port_, upload));
  AppendOutcome a = d.append(port_, upload, 0, "0123456789");
  EXPECT_EQ(a.kind, AppendOutcome::Kind::kRefused) << a;
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(UploadDriverContract);

}  // namespace
}  // namespace ringest::test
