#include "engine/base/status.h"

namespace ringest {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kEof: return "eof";
    case Code::kConnectionReset: return "connection-reset";
    case Code::kCancelled: return "cancelled";
    case Code::kNoSpace: return "no-space";
    case Code::kIoError: return "io-error";
    case Code::kNotFound: return "not-found";
    case Code::kCorrupt: return "corrupt";
    case Code::kInvalid: return "invalid";
    case Code::kBusy: return "busy";
    case Code::kOther: return "other";
    case Code::kTimedOut: return "timed-out";
    case Code::kNoDescriptors: return "no-descriptors";
    case Code::kNoMemory: return "no-memory";
    case Code::kExists: return "exists";
    case Code::kPathRefused: return "path-refused";
    case Code::kNotSupported: return "not-supported";
  }
  return "?";
}

Code code_from_errno(int err) {
  switch (err) {
    case 0: return Code::kOk;
    case ECONNRESET:
    case EPIPE:
    case ENOTCONN:
    case ETIMEDOUT: return Code::kConnectionReset;
    case ECANCELED: return Code::kCancelled;
    case ENOSPC:
    case EDQUOT: return Code::kNoSpace;
    case EIO: return Code::kIoError;
    case ENOENT: return Code::kNotFound;
    case EINVAL: return Code::kInvalid;
    case EAGAIN: return Code::kBusy;
    case ETIME: return Code::kTimedOut;
    case EMFILE:
    case ENFILE: return Code::kNoDescriptors;
    case ENOMEM:
    case ENOBUFS: return Code::kNoMemory;
    case EEXIST: return Code::kExists;
    case ELOOP:
    case EXDEV: return Code::kPathRefused;
    case EOPNOTSUPP: return Code::kNotSupported;
    default: return Code::kOther;
  }
}

}  // namespace ringest
