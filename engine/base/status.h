// Errors are values. An errno becomes a named outcome here, in one place, so handlers
// switch on `Code` and never on raw negative ints.
#pragma once

#include <cerrno>
#include <cstdint>
#include <utility>

#include "engine/base/check.h"

namespace ringest {

enum class Code : uint8_t {
  kOk,
  kEof,              // orderly end of stream
  kConnectionReset,  // ECONNRESET, EPIPE
  kCancelled,        // ECANCELED: we asked for it
  kNoSpace,          // ENOSPC, EDQUOT
  kIoError,          // EIO and anything unexpected from a disk operation
  kNotFound,         // ENOENT
  kCorrupt,          // a record failed its checks
  kInvalid,          // bad input
  kBusy,             // EAGAIN where it cannot be retried
  kOther,
  kTimedOut,         // ETIME: a timer fired
  kNoDescriptors,    // EMFILE, ENFILE
  kNoMemory,         // ENOMEM, ENOBUFS
  kExists,           // EEXIST
  kPathRefused,      // ELOOP, EXDEV: a symlink or an escape from the data directory
  kNotSupported,     // EOPNOTSUPP: this filesystem cannot (e.g. preallocate)
};

const char* code_name(Code code);

// Maps a (positive) errno to a Code.
Code code_from_errno(int err);
// Maps an io_uring completion result (>= 0 success, < 0 a negative errno) to a Code.
inline Code code_of(int res) { return res >= 0 ? Code::kOk : code_from_errno(-res); }

struct Status {
  Code code = Code::kOk;
  int err = 0;  // the errno behind it, 0 if none
  bool ok() const { return code == Code::kOk; }
  static Status Ok() { return {}; }
  static Status FromErrno(int e) { return {code_from_errno(e), e}; }
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(status) { RINGEST_CHECK(!status.ok()); }  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() {
    RINGEST_CHECK(ok());
    return value_;
  }
  const T& value() const {
    RINGEST_CHECK(ok());
    return value_;
  }

 private:
  Status status_;
  T value_{};
};

}  // namespace ringest
