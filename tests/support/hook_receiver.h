// A real HTTP receiver for ringestd's hooks, in the test process: it listens on 127.0.0.1,
// reads each POST (keep-alive, Content-Length bodies), keeps what came, and answers with the
// status the test chose. stop() closes the port (a receiver that is down: connections are
// refused); start() again on the same port brings it back.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringest::test {

struct ReceivedHook {
  std::string event;      // Ringest-Event
  std::string event_id;   // Ringest-Event-Id
  std::string signature;  // Ringest-Signature
  std::string body;
};

class HookReceiver {
 public:
  HookReceiver() = default;
  ~HookReceiver() { stop(); }
  HookReceiver(const HookReceiver&) = delete;
  HookReceiver& operator=(const HookReceiver&) = delete;

  // Listens on `port` (0: any free one) and serves until stop().
  void start(uint16_t port = 0);
  void stop();
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  void set_status(int status) { status_.store(status); }
  // Answers with `reply` as the body (a pre-create refusal's reason).
  void set_reply(std::string reply);

  std::vector<ReceivedHook> received();
  size_t count();
  // How many times each event id arrived.
  std::map<std::string, int> counts();

 private:
  void serve();
  bool serve_connection(int fd);

  std::atomic<int> status_{200};
  std::mutex mu_;
  std::string reply_;
  std::vector<ReceivedHook> received_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace ringest::test
