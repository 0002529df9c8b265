// PreCreateHook: the blocking pre-create hook, asked before an upload exists. A reactor never
// waits for it: the connection hands a ticket (the request's JSON, and where to post the
// answer) to one of a few worker threads, which calls the hook (HTTP or exec, bounded by its
// timeout), writes the reply into the ticket and posts an IORING_OP_MSG_RING completion into the
// connection's ring. The connection then creates the upload, or answers with the hook's status.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/hooks/hook_call.h"
#include "engine/io/completion.h"

namespace ringest::hooks {

// One question in flight, embedded in its connection (which must stay until the answer came).
struct PreCreateTicket {
  std::string json;                 // the would-be upload and the request (pre_create_json())
  int ring_fd = -1;                 // the connection's ring
  Completion* completion = nullptr;  // posted with res 0 when `reply` is set
  HookReply reply;
};

struct PreCreateOptions {
  std::string url;
  std::string exec;
  uint32_t timeout_ms = 5000;
  bool accept_on_failure = false;
  int workers = 4;  // questions asked at once (each waits on its receiver)
};

class PreCreateHook {
 public:
  explicit PreCreateHook(PreCreateOptions options);
  ~PreCreateHook();
  PreCreateHook(const PreCreateHook&) = delete;
  PreCreateHook& operator=(const PreCreateHook&) = delete;

  bool start(std::string* error);
  void stop();  // after the reactors are gone: questions not yet asked are dropped
  // From a reactor: queues the ticket (a lock held for a push; once per creation).
  void submit(PreCreateTicket* ticket);
  bool accept_on_failure() const { return options_.accept_on_failure; }

 private:
  void work();

  PreCreateOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PreCreateTicket*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ringest::hooks
