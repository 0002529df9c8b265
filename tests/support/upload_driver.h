// Drives uploads through one resumable-upload protocol, so that a black-box scenario (crash
// campaign, vanishing clients, takeover, slow bodies...) is written once and runs against every
// protocol ringestd speaks. A scenario creates an upload through a driver, builds raw append
// heads with it (to send a body in pieces, stall, vanish or half-close), reads each append's
// answer through it, and asks it for the committed state. Where protocols differ in what they can
// promise, the driver's Traits say so and the scenario adapts its expectation (never a silent
// skip).
//
// Adding a protocol: implement UploadDriver next to TusDriver and add it to upload_drivers();
// every suite instantiated with RINGEST_INSTANTIATE_FOR_EVERY_DRIVER then runs against it, and
// the contract test (tests/integration/upload_driver_test.cc) checks the driver itself first.
//
// Drivers are stateless and shared by all tests: every call names the server's port. Calls that
// talk to the server throw std::runtime_error when they cannot connect (a server that is down).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {

// One upload as a scenario holds it.
struct UploadHandle {
  std::string url;      // how the protocol addresses the upload (tus: the Location "/files/<id>")
  uint64_t length = 0;  // declared at creation (some protocols repeat it on every append)
  bool valid() const { return !url.empty(); }
};

// What the server reports about an upload.
struct UploadState {
  uint64_t offset = 0;                   // committed: every byte below it is durable
  std::optional<uint64_t> length;        // when the protocol reports it (state_has_length)
  std::optional<std::string> file_name;  // when the protocol keeps one (state_has_file_name)
};

// An append's answer, in the terms all resumable-upload protocols share.
struct AppendOutcome {
  enum class Kind {
    kNoResponse,  // the connection ended (or timed out) without a response: cut off or reset
    kAccepted,    // the append was stored
    kConflict,    // the append's offset was not the upload's (wrong, or moved by another request)
    kRefused,     // any other final refusal the protocol defines (too slow, too large, no space)
    kOther,       // a response the protocol does not define for an append: a failure
  };
  Kind kind = Kind::kNoResponse;
  int status = 0;                  // the HTTP status, 0 without a response
  std::optional<uint64_t> offset;  // the server's committed offset, when the answer carries it
};
const char* kind_name(AppendOutcome::Kind kind);
std::ostream& operator<<(std::ostream& os, const AppendOutcome& outcome);

// What a protocol can or cannot promise; scenarios read these to adapt their expectations.
struct DriverTraits {
  // An append cut off mid-body keeps the bytes that reached the server (tus: "store as much as
  // possible"). False for protocols that report offsets only at append boundaries (FilePond
  // counts a chunk only when all of it is stored): there a cut append leaves the offset where
  // the append started. See UploadDriver::offset_after_cut().
  bool keeps_partial_appends = true;
  // Accepted and conflict answers, and the refusal of a body that came too slowly (408), carry
  // the server's committed offset. False: the scenario learns it from state().
  bool offset_in_answers = true;
  // state() reports the length declared at creation.
  bool state_has_length = true;
  // A file name given at creation is stored with the upload and reported back by state().
  bool state_has_file_name = true;
};

class UploadDriver {
 public:
  virtual ~UploadDriver() = default;

  // Short, alphanumeric: the suffix of every test name run with this driver ("tus").
  virtual std::string name() const = 0;
  virtual DriverTraits traits() const = 0;

  // The complete raw request that creates an upload of `length` bytes (a scenario may send it
  // in pieces). `file_name` is kept if the protocol can (DriverTraits::state_has_file_name).
  virtual std::string create_request(uint64_t length, std::string_view file_name = {}) const = 0;
  // The upload a creation response made, or an invalid handle if it made none.
  virtual UploadHandle created(const std::optional<Response>& response, uint64_t length) const = 0;
  // The raw head of an append of `length` bytes at `offset`; exactly `length` body bytes follow
  // it on the wire (the scenario may send fewer and stall or close).
  virtual std::string append_head(const UploadHandle& upload, uint64_t offset,
                                  uint64_t length) const = 0;
  // Classifies the answer to an append (std::nullopt: none came).
  virtual AppendOutcome interpret_append(const std::optional<Response>& response) const = 0;
  // The committed state; std::nullopt when the server does not know the upload or its answer is
  // not a valid one.
  virtual std::optional<UploadState> state(uint16_t port, const UploadHandle& upload) const = 0;
  // The raw request that fetches a finished upload's bytes.
  virtual std::string download_request(const UploadHandle& upload) const = 0;
  // Terminates the upload; true when the server confirmed it.
  virtual bool remove(uint16_t port, const UploadHandle& upload) const = 0;
  // The engine's id of the upload: its files are named after it, and so are synclog lines.
  virtual std::string upload_id(const UploadHandle& upload) const = 0;
  // Where the engine stores the upload's bytes (today <data-dir>/uploads/<id>.bin).
  virtual std::string data_file(const std::string& data_dir, const UploadHandle& upload) const;

  // Built on the above, the same for every protocol. Each request uses a fresh connection.
  UploadHandle create(uint16_t port, uint64_t length, std::string_view file_name = {}) const;
  // Sends the head and `data` (reading an early answer even if the body could not all be sent).
  AppendOutcome append(uint16_t port, const UploadHandle& upload, uint64_t offset,
                       std::string_view data) const;
  std::optional<uint64_t> offset(uint16_t port, const UploadHandle& upload) const;
  // The finished upload's bytes, std::nullopt unless the server answered 200.
  std::optional<std::string> download(uint16_t port, const UploadHandle& upload) const;
  // The upload's commit record next to its data (the PowerLoss test edits it).
  std::string record_file(const std::string& data_dir, const UploadHandle& upload) const;
  // The committed offset to expect after an append that started at `start` was cut off (client
  // gone, timed out, taken over) once `arrived` of its bytes had reached the server.
  uint64_t offset_after_cut(uint64_t start, uint64_t arrived) const;
};

// tus 1.0.0 (core, creation, termination) at /files/, over test_support's tus helpers.
class TusDriver final : public UploadDriver {
 public:
  std::string name() const override { return "tus"; }
  DriverTraits traits() const override { return {}; }
  std::string create_request(uint64_t length, std::string_view file_name) const override;
  UploadHandle created(const std::optional<Response>& response, uint64_t length) const override;
  std::string append_head(const UploadHandle& upload, uint64_t offset,
                          uint64_t length) const override;
  AppendOutcome interpret_append(const std::optional<Response>& response) const override;
  std::optional<UploadState> state(uint16_t port, const UploadHandle& upload) const override;
  std::string download_request(const UploadHandle& upload) const override;
  bool remove(uint16_t port, const UploadHandle& upload) const override;
  std::string upload_id(const UploadHandle& upload) const override;
};

// IETF Resumable Uploads (draft-ietf-httpbis-resumable-upload, interop version 8) at /files/.
// The creation names no interop version (as a client of the final RFC would), so its only
// answer is the 201 a scenario reads; every other request names version 8. An append says
// `Upload-Complete: ?1` when it ends at the declared length.
class IetfDriver final : public UploadDriver {
 public:
  std::string name() const override { return "ietf"; }
  // HEAD reports no file name (the draft has no field for it; the download is named by it).
  DriverTraits traits() const override {
    DriverTraits t;
    t.state_has_file_name = false;
    return t;
  }
  std::string create_request(uint64_t length, std::string_view file_name) const override;
  UploadHandle created(const std::optional<Response>& response, uint64_t length) const override;
  std::string append_head(const UploadHandle& upload, uint64_t offset,
                          uint64_t length) const override;
  AppendOutcome interpret_append(const std::optional<Response>& response) const override;
  std::optional<UploadState> state(uint16_t port, const UploadHandle& upload) const override;
  std::string download_request(const UploadHandle& upload) const override;
  bool remove(uint16_t port, const UploadHandle& upload) const override;
  std::string upload_id(const UploadHandle& upload) const override;
};

// FilePond 4.x's chunk protocol at /filepond: creation with a metadata form (the file name as
// `filename`), chunks as PATCH ?patch=<id> that count whole or not at all, HEAD ?patch=<id> for
// the offset, ?load=<id> for the bytes, DELETE with the id as the body.
class FilepondDriver final : public UploadDriver {
 public:
  std::string name() const override { return "filepond"; }
  DriverTraits traits() const override;
  std::string create_request(uint64_t length, std::string_view file_name) const override;
  UploadHandle created(const std::optional<Response>& response, uint64_t length) const override;
  std::string append_head(const UploadHandle& upload, uint64_t offset,
                          uint64_t length) const override;
  AppendOutcome interpret_append(const std::optional<Response>& response) const override;
  std::optional<UploadState> state(uint16_t port, const UploadHandle& upload) const override;
  std::string download_request(const UploadHandle& upload) const override;
  bool remove(uint16_t port, const UploadHandle& upload) const override;
  std::string upload_id(const UploadHandle& upload) const override;
};

// Checks the offset an answer reported against the protocol's promise: `expected` where answers
// carry offsets (DriverTraits::offset_in_answers), none where they do not.
::testing::AssertionResult answer_offset_is(const UploadDriver& driver,
                                            const AppendOutcome& outcome, uint64_t expected);

// SHA-256 of a finished upload's download, or "<no download>": short enough for a failure
// message, unlike the bytes themselves.
std::string download_sha256(const UploadDriver& driver, uint16_t port, const UploadHandle& upload);

// Every protocol the scenarios run against.
const std::vector<const UploadDriver*>& upload_drivers();

// gtest glue: a fixture base for scenarios parameterized by driver, its printer, and test
// names that end in "/<driver name>".
class DriverTest : public ::testing::TestWithParam<const UploadDriver*> {
 protected:
  const UploadDriver& driver() const { return *GetParam(); }
};
// A DriverTest with a ringestd of its own, started by the test with the flags it needs.
class ServerDriverTest : public DriverTest {
 protected:
  void start(std::vector<std::string> args) {
    server_ = std::make_unique<Server>(dir_.path() + "/data", std::move(args));
    server_->start();
    port_ = server_->port();
  }
  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

void PrintTo(const UploadDriver* driver, std::ostream* os);
struct DriverTestName {
  std::string operator()(const ::testing::TestParamInfo<const UploadDriver*>& info) const {
    return info.param->name();
  }
};

}  // namespace ringest::test

// Instantiates a DriverTest suite once per driver in upload_drivers(). The empty prefix keeps
// the suite's own name ("CrashCampaign.X/tus"), so --gtest_filter='CrashCampaign.*' still works.
#define RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(suite)                                         \
  INSTANTIATE_TEST_SUITE_P(, suite, ::testing::ValuesIn(::ringest::test::upload_drivers()), \
                           ::ringest::test::DriverTestName())
