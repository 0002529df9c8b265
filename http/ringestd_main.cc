// ringestd: parse flags, open and recover the data dir, bind one SO_REUSEPORT listener per
// reactor, start one reactor thread per core, print "listening on ...", and drain on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/base/config.h"
#include "engine/base/log.h"
#include "engine/io/fault_plan.h"
#include "engine/reactor/reactor.h"
#include "engine/base/clock.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/recovery.h"
#include "engine/upload/upload_store.h"
#include "http/access/access_policy.h"
#include "http/builtin/healthz_handler.h"
#include "http/builtin/metrics_handler.h"
#include "http/connection_pool.h"
#include "http/router.h"
#include "http/server_context.h"
#include "http/tus/tus_handler.h"

namespace ringest {
namespace {

// An upload's files stay open (FileCache) at most this long after its last request.
constexpr uint64_t kIdleFilesMs = 60000;

int make_listener(const std::string& host, uint16_t port, uint16_t* bound_port,
                  std::string* error) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  std::string numeric = host == "localhost" ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, numeric.c_str(), &addr.sin_addr) != 1) {
    *error = "cannot parse listen address '" + host + "' (IPv4 only)";
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(fd, 4096) < 0) {
    *error = "cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = ntohs(addr.sin_port);
  return fd;
}

void raise_limit(int resource) {
  rlimit lim{};
  if (getrlimit(resource, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(resource, &lim);
  }
}

struct ReactorThread {
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<http::ConnectionPool> connections;
  std::thread thread;
};

int run(const Config& config) {
  raise_limit(RLIMIT_NOFILE);
  raise_limit(RLIMIT_MEMLOCK);
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // SIGHUP re-reads the token file; without one it keeps its default action.
  if (!config.auth_token_file.empty()) sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by every reactor thread

  std::string error;
  static FaultPlan fault_plan;
  if (!config.fault_plan.empty()) {
    if (!FaultPlan::parse(config.fault_plan, &fault_plan, &error)) {
      std::fprintf(stderr, "ringestd: --fault-plan: %s\n", error.c_str());
      return 2;
    }
    g_fault_plan = &fault_plan;
    RINGEST_LOG_WARN("TEST ONLY: fault plan '%s' is active", config.fault_plan.c_str());
  }
  // Access control: built before any reactor runs, read by all of them, never freed early.
  std::unique_ptr<http::AccessPolicy> access;
  if (http::AccessPolicy::configured(config)) {
    access = std::make_unique<http::AccessPolicy>();
    if (!access->load(config, &error)) {
      std::fprintf(stderr, "ringestd: %s\n", error.c_str());
      return 2;
    }
    RINGEST_LOG_INFO("access control: bearer tokens %s, signed URLs %s, CORS %s",
                     access->tokens_enabled() ? "on" : "off",
                     access->signing_enabled() ? "on" : "off",
                     access->cors_enabled() ? "on" : "off");
  }
  storage::DataDir data_dir;
  if (!data_dir.open(config.data_dir, &error).ok()) {
    std::fprintf(stderr, "ringestd: %s\n", error.c_str());
    return 1;
  }
  UploadStore store(&data_dir, config.io_mode == IoMode::kDirect, config.max_open_uploads,
                    kIdleFilesMs);
  {
    uint64_t started = monotonic_ms_now();
    storage::RecoveryReport report;
    if (!storage::recover(data_dir, &report, &error)) {
      std::fprintf(stderr, "ringestd: recovery: %s\n", error.c_str());
      return 1;
    }
    store.registry().reserve(report.uploads.size());
    for (const storage::RecoveredUpload& r : report.uploads) store.adopt(r);
    RINGEST_LOG_INFO("recovered %zu uploads from %s in %llu ms (%d set aside in quarantine/, %d "
                     "re-admitted from it, %d orphan data files removed, %d fell back to an "
                     "older commit)",
                     report.uploads.size(), config.data_dir.c_str(),
                     static_cast<unsigned long long>(monotonic_ms_now() - started),
                     report.quarantined, report.readmitted, report.orphans_removed,
                     report.fell_back);
  }

  int threads = config.threads;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  std::vector<int> listeners;
  uint16_t port = config.listen_port;
  for (int i = 0; i < threads; ++i) {
    uint16_t bound = 0;
    int fd = make_listener(config.listen_host, port, &bound, &error);
    if (fd < 0) {
      std::fprintf(stderr, "ringestd: %s\n", error.c_str());
      return 1;
    }
    port = bound;  // the first listener picks the port; the others share it
    listeners.push_back(fd);
  }

  std::vector<ReactorThread> reactors(threads);
  std::vector<Reactor*> reactor_list;
  for (int i = 0; i < threads; ++i) {
    reactors[i].reactor = std::make_unique<Reactor>(i, config);
    reactor_list.push_back(reactors[i].reactor.get());
  }
  // Routes: the protocols and the server's own endpoints.
  tus::TusHandler tus("/files/");
  http::MetricsHandler metrics(reactor_list, &store);
  http::HealthzHandler healthz;
  http::Router router;
  router.add("/files/", &tus);
  router.add("/metrics", &metrics);
  router.add("/healthz", &healthz);
  router.set_default(&tus);  // OPTIONS *: the tus capabilities
  http::ServerContext context;
  context.config = &config;
  context.store = &store;
  context.router = &router;
  context.access = access.get();

  std::mutex mu;
  std::condition_variable cv;
  int ready = 0, failed = 0, finished = 0;
  unsigned cores = std::thread::hardware_concurrency();
  for (int i = 0; i < threads; ++i) {
    reactors[i].thread = std::thread([&, i] {
      ReactorThread& rt = reactors[i];
      if (cores > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(static_cast<unsigned>(i) % cores, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      }
      bool ok = rt.reactor->init(listeners[i]).ok();
      if (ok) {
        rt.connections = std::make_unique<http::ConnectionPool>(rt.reactor.get(), &context);
        rt.reactor->set_client(rt.connections.get());
      }
      {
        std::lock_guard lock(mu);
        ++ready;
        if (!ok) ++failed;
      }
      cv.notify_all();
      if (ok) rt.reactor->run();
      {
        std::lock_guard lock(mu);
        ++finished;
      }
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return ready == threads; });
  }
  if (failed > 0) {
    std::fprintf(stderr, "ringestd: %d reactor(s) failed to start\n", failed);
    for (auto& rt : reactors) rt.reactor->request_stop();
    for (auto& rt : reactors) rt.thread.join();
    return 1;
  }
  std::printf("listening on http://%s:%u\n", config.listen_host.c_str(), port);
  std::fflush(stdout);
  RINGEST_LOG_INFO("ringestd: %d reactor(s), %u x %u KiB registered buffers each, data dir %s",
                   threads, config.buffers_per_reactor, config.buffer_bytes / 1024,
                   config.data_dir.c_str());

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    size_t count = 0;
    if (access->reload_tokens(&count, &error)) {
      RINGEST_LOG_INFO("SIGHUP: %zu bearer token(s) loaded from %s", count,
                       access->token_file().c_str());
    } else {
      RINGEST_LOG_ERROR("SIGHUP: keeping the previous bearer tokens: %s", error.c_str());
    }
  }
  RINGEST_LOG_INFO("signal %d: draining (at most %u ms)", sig, config.shutdown_timeout_ms);
  for (auto& rt : reactors) rt.reactor->request_stop();
  bool drained;
  {
    std::unique_lock lock(mu);
    drained = cv.wait_for(lock, std::chrono::milliseconds(config.shutdown_timeout_ms),
                          [&] { return finished == threads; });
  }
  if (!drained) {
    RINGEST_LOG_WARN("shutdown timeout: exiting with requests still open (committed state is "
                     "on disk)");
    std::fflush(stdout);
    _exit(0);
  }
  for (auto& rt : reactors) rt.thread.join();
  RINGEST_LOG_INFO("stopped");
  return 0;
}

}  // namespace
}  // namespace ringest

int main(int argc, char** argv) {
  ringest::ParseOutcome parsed = ringest::parse_args(argc, argv);
  switch (parsed.kind) {
    case ringest::ParseOutcome::Kind::kHelp:
      std::fputs(ringest::usage_text(), stdout);
      return 0;
    case ringest::ParseOutcome::Kind::kError:
      std::fprintf(stderr, "ringestd: %s\nTry 'ringestd --help'.\n", parsed.error.c_str());
      return 2;
    case ringest::ParseOutcome::Kind::kRun:
      break;
  }
  return ringest::run(parsed.config);
}
