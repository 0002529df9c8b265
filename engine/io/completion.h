// A completion finds its owner by pointer: every in-flight io_uring operation is a Completion
// embedded in the object that issued it, and the SQE's user_data is the Completion's address.
// The reactor casts user_data back and calls handler->on_completion().
//
// Ownership rule: an owner must not be freed while any of its Completions is in flight.
#pragma once

#include <cstdint>

namespace ringest {

struct Completion;

class CompletionHandler {
 public:
  // `res` is the CQE result (negative errno on failure), `flags` the CQE flags.
  virtual void on_completion(Completion* completion, int res, uint32_t flags) = 0;

 protected:
  ~CompletionHandler() = default;
};

struct Completion {
  CompletionHandler* handler = nullptr;
  uint32_t tag = 0;  // lets one handler tell its completions apart
  // Set by the fault seam (IoRing, --fault-plan) when it replaced this completion's operation:
  // the completion is then delivered with this result (a negative errno). 0 otherwise.
  int32_t injected = 0;
};

}  // namespace ringest
