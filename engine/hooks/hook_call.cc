#include "engine/hooks/hook_call.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "engine/base/clock.h"

extern char** environ;

namespace ringest::hooks {
namespace {

constexpr size_t kMaxReplyBytes = 512;

size_t keep_reply(char* data, size_t size, size_t count, void* user) {
  auto* reply = static_cast<std::string*>(user);
  size_t n = size * count;
  size_t room = kMaxReplyBytes - std::min(reply->size(), kMaxReplyBytes);
  reply->append(data, std::min(n, room));
  return n;  // the rest is read and dropped
}

std::once_flag g_curl_once;

std::string first_line(std::string_view text) {
  size_t end = text.find_first_of("\r\n");
  return std::string(text.substr(0, end == std::string_view::npos ? text.size() : end));
}

}  // namespace

std::string hook_signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

HttpHook::HttpHook(std::string url, std::string secret, uint32_t timeout_ms)
    : url_(std::move(url)), secret_(std::move(secret)), timeout_ms_(timeout_ms) {
  std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpHook::~HttpHook() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HookReply HttpHook::call(const HookCall& call) {
  HookReply reply;
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    reply.message = "libcurl did not initialise";
    return reply;
  }
  std::string event = "Ringest-Event: " + std::string(call.event);
  std::string event_id = "Ringest-Event-Id: " + std::string(call.event_id);
  std::string signature;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, event.c_str());
  headers = curl_slist_append(headers, event_id.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!secret_.empty()) {
    signature = "Ringest-Signature: sha256=" + hook_signature(secret_, call.json);
    headers = curl_slist_append(headers, signature.c_str());
  }
  std::string body;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.json.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.json.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // the receiver is named exactly
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_reply);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "ringestd-hook");
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    reply.message = curl_easy_strerror(rc);
    return reply;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  if (status >= 200 && status < 300) {
    reply.kind = HookReply::Kind::kAccepted;
  } else if (status >= 400 && status < 500) {
    reply.kind = HookReply::Kind::kRefused;
    reply.message = first_line(body);
  } else {
    reply.message = "answered " + std::to_string(status);
  }
  return reply;
}

ExecHook::ExecHook(std::string program, uint32_t timeout_ms)
    : program_(std::move(program)), timeout_ms_(timeout_ms) {}

namespace {

// Feeds `input` to `in_fd` and collects up to kMaxReplyBytes of `out_fd` until both are done
// or `deadline_ms` passes. Closes in_fd when all is written (or the program stopped reading).
bool exchange(int in_fd, int out_fd, std::string_view input, std::string* output,
              uint64_t deadline_ms) {
  size_t written = 0;
  bool out_open = true;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  while (in_fd >= 0 || out_open) {
    uint64_t now = monotonic_ms_now();
    if (now >= deadline_ms) break;
    pollfd fds[2] = {{in_fd, POLLOUT, 0}, {out_open ? out_fd : -1, POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(deadline_ms - now));
    if (n < 0 && errno != EINTR) break;
    if (in_fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in_fd, input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = input.size();  // reader gone
      if (written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    if (out_open && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      char buf[1024];
      ssize_t r = read(out_fd, buf, sizeof buf);
      if (r > 0 && output->size() < kMaxReplyBytes) {
        output->append(buf, std::min(static_cast<size_t>(r), kMaxReplyBytes - output->size()));
      }
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) out_open = false;
    }
  }
  if (in_fd >= 0) close(in_fd);
  return !out_open;
}

// Waits for `pid` until `deadline_ms`; past it the program is killed. Returns the wait status,
// or -1 when it had to be killed.
int reap(pid_t pid, uint64_t deadline_ms) {
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (monotonic_ms_now() >= deadline_ms) break;
    usleep(2000);
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return -1;
}

}  // namespace

HookReply ExecHook::call(const HookCall& call) const {
  HookReply reply;
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    reply.message = std::string("pipe: ") + std::strerror(errno);
    return reply;
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    reply.message = std::string("pipe: ") + std::strerror(errno);
    close(in_pipe[0]);
    close(in_pipe[1]);
    return reply;
  }
  // The child starts with default signal handling and nothing blocked: ringestd blocks SIGTERM,
  // SIGINT and SIGHUP in every thread (sigwait) and ignores SIGPIPE, and both would be inherited.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  std::vector<std::string> env_strings = {"RINGEST_EVENT=" + std::string(call.event),
                                          "RINGEST_EVENT_ID=" + std::string(call.event_id)};
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char* argv[] = {const_cast<char*>(program_.c_str()), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program_.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    reply.message = "cannot run " + program_ + ": " + std::strerror(rc);
    return reply;
  }
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  uint64_t deadline = monotonic_ms_now() + timeout_ms_;
  std::string output;
  exchange(in_pipe[1], out_pipe[0], call.json, &output, deadline);
  close(out_pipe[0]);
  int status = reap(pid, deadline);
  if (status < 0) {
    reply.message = program_ + " timed out after " + std::to_string(timeout_ms_) + " ms";
    return reply;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    reply.kind = HookReply::Kind::kAccepted;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
    reply.kind = HookReply::Kind::kRefused;
    reply.status = 403;
    std::string line = first_line(output);
    if (line.size() >= 3 && line[0] == '4' && std::isdigit(static_cast<unsigned char>(line[1])) &&
        std::isdigit(static_cast<unsigned char>(line[2])) && (line.size() == 3 || line[3] == ' ')) {
      reply.status = std::stoi(line.substr(0, 3));
      line = line.size() > 4 ? line.substr(4) : "";
    }
    reply.message = line;
  } else if (WIFEXITED(status)) {
    reply.message = program_ + " exited " + std::to_string(WEXITSTATUS(status));
  } else {
    reply.message = program_ + " died of signal " + std::to_string(WTERMSIG(status));
  }
  return reply;
}

}  // namespace ringest::hooks
