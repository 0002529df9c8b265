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
    default: return Code::kOther;
  }
}

}  // namespace ringest
