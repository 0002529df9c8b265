// ringestd: parse flags, open and recover the data dir, bind one SO_REUSEPORT listener per
// reactor, start one reactor thread per core, print "listening on ...", and drain on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/base/config.h"
#include "engine/base/log.h"
#include "engine/hooks/outbox.h"
#include "engine/io/fault_plan.h"
#include "engine/reactor/reactor.h"
#include "engine/base/clock.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/recovery.h"
#include "engine/upload/expiry_collector.h"
#include "engine/upload/disk_budget.h"
#include "engine/upload/upload_store.h"
#include "http/access/access_policy.h"
#include "http/builtin/healthz_handler.h"
#include "http/builtin/metrics_handler.h"
#include "http/connection_pool.h"
#include "http/filepond/filepond_handler.h"
#include "http/router.h"
#include "http/files_route.h"
#include "http/server_context.h"
#include "http/tus/tus_handler.h"
#include "http/ui/asset_table.h"
#include "http/ui/ui_handler.h"

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

// Recovers every upload on disk into the store. False (with the reason printed) when start-up
// must stop.
bool recover_uploads(const Config& config, storage::DataDir& data_dir, UploadStore& store) {
  uint64_t started = monotonic_ms_now();
  storage::RecoveryReport report;
  std::string error;
  if (!storage::recover(data_dir, &report, &error)) {
    std::fprintf(stderr, "ringestd: recovery: %s\n", error.c_str());
    return false;
  }
  store.registry().reserve(report.uploads.size());
  for (const storage::RecoveredUpload& r : report.uploads) store.adopt(r);
  RINGEST_LOG_INFO("recovered %zu uploads from %s in %llu ms (%d set aside in quarantine/, %d "
                   "re-admitted from it, %d orphan data files removed, %d fell back to an older "
                   "commit)",
                   report.uploads.size(), config.data_dir.c_str(),
                   static_cast<unsigned long long>(monotonic_ms_now() - started),
                   report.quarantined, report.readmitted, report.orphans_removed,
                   report.fell_back);
  return true;
}

// The disk budget (docs/operations.md, "Disk budget"), sampled before recovery counts the
// uploads on disk. It lowers config->max_upload_bytes to what could ever be admitted, so the
// announced maximum (Tus-Max-Size, Upload-Limit) stays true. False (printed) stops start-up.
bool open_budget(Config* config, const storage::DataDir& data_dir,
                 const http::AccessPolicy* access, DiskBudget* budget) {
  DiskLimits limits{config->min_free_bytes, config->min_free_percent,
                    config->max_uploads_per_client, config->max_bytes_per_client};
  std::string error;
  if (!budget->open(data_dir.uploads_dir_fd(), limits, &error)) {
    std::fprintf(stderr, "ringestd: %s\n", error.c_str());
    return false;
  }
  bool anonymous = access == nullptr || !(access->tokens_enabled() || access->signing_enabled());
  uint64_t largest = std::min(config->max_upload_bytes, budget->largest_upload());
  uint64_t per_client = budget->limits().max_bytes_per_client;
  if (anonymous && per_client != 0) largest = std::min(largest, per_client);
  config->max_upload_bytes = largest;
  RINGEST_LOG_INFO("disk budget: %llu MiB filesystem, reserve %llu MiB, largest upload %llu MiB; "
                   "per anonymous client: %u unfinished uploads, %llu MiB of them (0: no bound)",
                   static_cast<unsigned long long>(budget->total_bytes() >> 20),
                   static_cast<unsigned long long>(budget->reserve_bytes() >> 20),
                   static_cast<unsigned long long>(largest >> 20),
                   anonymous ? limits.max_uploads_per_client : 0,
                   static_cast<unsigned long long>(anonymous ? per_client >> 20 : 0));
  return true;
}

// The reactor threads: one per core, each with its ring, listener and connections.
class ReactorGroup {
 public:
  ReactorGroup(const Config& config, int threads) : threads_(threads) {
    for (int i = 0; i < threads; ++i) {
      reactors_.push_back(std::make_unique<Reactor>(i, config));
      list_.push_back(reactors_.back().get());
    }
    connections_.resize(threads);
  }
  const std::vector<Reactor*>& reactors() const { return list_; }

  // Starts the threads; false when a reactor could not start (all are stopped again).
  // Runs `collector` on reactor 0 (call before start()).
  void set_collector(ExpiryCollector* collector) { collector_ = collector; }

  bool start(const std::vector<int>& listeners, http::ServerContext* context) {
    unsigned cores = std::thread::hardware_concurrency();
    for (int i = 0; i < threads_; ++i) {
      threads_list_.emplace_back([this, i, cores, &listeners, context] {
        if (cores > 0) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(static_cast<unsigned>(i) % cores, &set);
          pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        }
        Reactor& reactor = *reactors_[i];
        bool ok = reactor.init(listeners[i]).ok();
        if (ok) {
          connections_[i] = std::make_unique<http::ConnectionPool>(&reactor, context);
          reactor.set_client(connections_[i].get());
          if (i == 0 && collector_ != nullptr) {
            reactor.set_service(collector_);
            collector_->start(&reactor);
          }
        }
        note(ok ? &ready_ : &failed_);
        if (ok) reactor.run();
        note(&finished_);
      });
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ready_ + failed_ == threads_; });
    if (failed_ == 0) return true;
    lock.unlock();
    std::fprintf(stderr, "ringestd: %d reactor(s) failed to start\n", failed_);
    stop_and_join();
    return false;
  }

  // Asks every reactor to drain; false when they did not within `timeout_ms`.
  bool drain(uint32_t timeout_ms) {
    for (Reactor* r : list_) r->request_stop();
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [&] { return finished_ + failed_ == threads_; });
  }
  void stop_and_join() {
    for (Reactor* r : list_) r->request_stop();
    for (std::thread& t : threads_list_) t.join();
    threads_list_.clear();
  }

 private:
  void note(int* counter) {
    {
      std::lock_guard lock(mu_);
      ++*counter;
    }
    cv_.notify_all();
  }

  int threads_;
  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<Reactor*> list_;
  std::vector<std::unique_ptr<http::ConnectionPool>> connections_;
  ExpiryCollector* collector_ = nullptr;
  std::vector<std::thread> threads_list_;
  std::mutex mu_;
  std::condition_variable cv_;
  int ready_ = 0, failed_ = 0, finished_ = 0;
};

// Waits for SIGTERM or SIGINT (returned); SIGHUP reloads the bearer tokens meanwhile.
int wait_for_stop(const sigset_t& signals, http::AccessPolicy* access) {
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) return sig;
    size_t count = 0;
    std::string error;
    if (access->reload_tokens(&count, &error)) {
      RINGEST_LOG_INFO("SIGHUP: %zu bearer token(s) loaded from %s", count,
                       access->token_file().c_str());
    } else {
      RINGEST_LOG_ERROR("SIGHUP: keeping the previous bearer tokens: %s", error.c_str());
    }
  }
}

// The fault plan (tests only) and access control, built before any reactor runs.
bool load_policies(const Config& config, FaultPlan* fault_plan,
                   std::unique_ptr<http::AccessPolicy>* access) {
  std::string error;
  if (!config.fault_plan.empty()) {
    if (!FaultPlan::parse(config.fault_plan, fault_plan, &error)) {
      std::fprintf(stderr, "ringestd: --fault-plan: %s\n", error.c_str());
      return false;
    }
    g_fault_plan = fault_plan;
    RINGEST_LOG_WARN("TEST ONLY: fault plan '%s' is active", config.fault_plan.c_str());
  }
  if (http::AccessPolicy::configured(config)) {
    *access = std::make_unique<http::AccessPolicy>();
    if (!(*access)->load(config, &error)) {
      std::fprintf(stderr, "ringestd: %s\n", error.c_str());
      return false;
    }
    RINGEST_LOG_INFO("access control: bearer tokens %s, signed URLs %s, CORS %s",
                     (*access)->tokens_enabled() ? "on" : "off",
                     (*access)->signing_enabled() ? "on" : "off",
                     (*access)->cors_enabled() ? "on" : "off");
  }
  return true;
}

#ifndef RINGEST_DEFAULT_UI_DIR
#define RINGEST_DEFAULT_UI_DIR "ui"
#endif

// The upload page's files, read once (before any reactor runs). False: the page is off (with a
// log line saying why); the server runs without it.
bool load_upload_page(const Config& config, http::ui::AssetTable* table) {
  if (!config.ui_enabled) {
    RINGEST_LOG_INFO("upload page: off (--no-ui)");
    return false;
  }
  std::string dir = config.ui_dir.empty() ? RINGEST_DEFAULT_UI_DIR : config.ui_dir;
  std::string error;
  if (!table->load(dir, &error)) {
    RINGEST_LOG_WARN("upload page: off: %s (run `npm ci` in ui/, or pass --ui-dir; --no-ui "
                     "silences this)", error.c_str());
    return false;
  }
  RINGEST_LOG_INFO("upload page: on at /, %zu files (%zu KiB) from %s", table->size(),
                   table->total_bytes() / 1024, dir.c_str());
  return true;
}

// The hook outbox, when a sink is configured: opened, the events owed rebuilt from the records,
// its delivery thread started. False: start-up stops (the reason is printed).
bool start_hooks(const Config& config, storage::DataDir& data_dir, UploadStore& store,
                 std::unique_ptr<hooks::HookOutbox>* out) {
  if (!config.hooks_enabled()) return true;
  hooks::OutboxOptions options;
  options.url = config.hook_url;
  options.exec = config.hook_exec;
  options.timeout_ms = config.hook_timeout_ms;
  options.backoff_max_ms = config.hook_retry_max_ms;
  if (options.backoff_min_ms > options.backoff_max_ms) options.backoff_min_ms = options.backoff_max_ms;
  options.max_events = config.hook_outbox_max;
  if (!config.hook_secret_file.empty()) {
    std::ifstream in(config.hook_secret_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    options.secret = text.str();
    while (!options.secret.empty() && (options.secret.back() == '\n' ||
                                       options.secret.back() == '\r')) {
      options.secret.pop_back();
    }
    if (!in || options.secret.empty()) {
      std::fprintf(stderr, "ringestd: --hook-secret-file %s: cannot read a secret from it\n",
                   config.hook_secret_file.c_str());
      return false;
    }
  }
  auto outbox = std::make_unique<hooks::HookOutbox>(data_dir, store, options);
  std::string error;
  if (!outbox->open(&error)) {
    std::fprintf(stderr, "ringestd: %s\n", error.c_str());
    return false;
  }
  store.set_events(outbox.get());
  outbox->recover();
  outbox->start();
  RINGEST_LOG_INFO("hooks: events to %s%s%s", config.hook_url.c_str(),
                   config.hook_url.empty() || config.hook_exec.empty() ? "" : " and ",
                   config.hook_exec.c_str());
  *out = std::move(outbox);
  return true;
}

// One SO_REUSEPORT listener per reactor; the first picks the port when 0 is asked for.
bool make_listeners(const Config& config, int threads, std::vector<int>* listeners,
                    uint16_t* port) {
  std::string error;
  *port = config.listen_port;
  for (int i = 0; i < threads; ++i) {
    uint16_t bound = 0;
    int fd = make_listener(config.listen_host, *port, &bound, &error);
    if (fd < 0) {
      std::fprintf(stderr, "ringestd: %s\n", error.c_str());
      return false;
    }
    *port = bound;
    listeners->push_back(fd);
  }
  return true;
}

int run(Config config) {
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

  static FaultPlan fault_plan;
  std::unique_ptr<http::AccessPolicy> access;  // read by every reactor, never freed early
  if (!load_policies(config, &fault_plan, &access)) return 2;
  std::string error;
  storage::DataDir data_dir;
  if (!data_dir.open(config.data_dir, &error).ok()) {
    std::fprintf(stderr, "ringestd: %s\n", error.c_str());
    return 1;
  }
  UploadStore store(&data_dir, config.io_mode == IoMode::kDirect, config.max_open_uploads,
                    kIdleFilesMs);
  DiskBudget budget;  // (outlives the reactors: declared before them)
  if (!open_budget(&config, data_dir, access.get(), &budget)) return 1;
  store.set_budget(&budget);
  if (!recover_uploads(config, data_dir, store)) return 1;
  std::unique_ptr<hooks::HookOutbox> outbox;
  if (!start_hooks(config, data_dir, store, &outbox)) return 1;
  store.set_expiry(expiry_policy_of(config));
  ExpiryCollector collector(&store);  // outlives the reactors (declared before the group)
  budget.start();

  int threads = config.threads;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  std::vector<int> listeners;
  uint16_t port = 0;
  if (!make_listeners(config, threads, &listeners, &port)) return 1;

  ReactorGroup group(config, threads);
  if (store.expiry().enabled()) group.set_collector(&collector);
  // Routes: the protocols and the server's own endpoints.
  tus::TusHandler tus("/files/");
  ietf::IetfHandler ietf("/files/");
  // tus and IETF Resumable Uploads share /files/, told apart by their headers.
  http::FilesRoute files(&tus, &ietf, config.max_upload_bytes, config.max_append_bytes);
  http::MetricsHandler metrics(group.reactors(), &store);
  if (outbox) metrics.set_hooks(&outbox->stats());
  http::HealthzHandler healthz;
  http::ui::AssetTable ui_files;  // read-only from here on; outlives the reactors
  http::ui::UiHandler ui(&ui_files);
  http::Router router;
  router.add("/files/", &files);
  filepond::FilepondHandler filepond;  // FilePond's chunk protocol (server.url: /filepond)
  router.add("/filepond/", &filepond);
  router.add("/metrics", &metrics);
  router.add("/healthz", &healthz);
  if (load_upload_page(config, &ui_files)) {
    router.add_exact("/", &ui);
    router.add("/ui/", &ui);
  }
  router.set_default(&files);  // OPTIONS *: the tus capabilities and the IETF Upload-Limit
  http::ServerContext context;
  context.config = &config;
  context.store = &store;
  context.router = &router;
  context.access = access.get();
  std::unique_ptr<hooks::PreCreateHook> pre_create;
  if (config.pre_create_enabled()) {
    hooks::PreCreateOptions options;
    options.url = config.pre_create_url;
    options.exec = config.pre_create_exec;
    options.timeout_ms = config.pre_create_timeout_ms;
    options.accept_on_failure = config.pre_create_accept_on_failure;
    pre_create = std::make_unique<hooks::PreCreateHook>(options);
    pre_create->start(&error);
    context.pre_create = pre_create.get();
    RINGEST_LOG_INFO("pre-create hook: %s (on failure: %s)",
                     config.pre_create_url.empty() ? config.pre_create_exec.c_str()
                                                   : config.pre_create_url.c_str(),
                     config.pre_create_accept_on_failure ? "accept" : "reject with 503");
  }
  if (!group.start(listeners, &context)) return 1;

  std::printf("listening on http://%s:%u\n", config.listen_host.c_str(), port);
  std::fflush(stdout);
  RINGEST_LOG_INFO("ringestd: %d reactor(s), %u x %u KiB registered buffers each, data dir %s",
                   threads, config.buffers_per_reactor, config.buffer_bytes / 1024,
                   config.data_dir.c_str());
  int sig = wait_for_stop(signals, access.get());
  RINGEST_LOG_INFO("signal %d: draining (at most %u ms)", sig, config.shutdown_timeout_ms);
  if (!group.drain(config.shutdown_timeout_ms)) {
    RINGEST_LOG_WARN("shutdown timeout: exiting with requests still open (committed state is "
                     "on disk)");
    std::fflush(stdout);
    _exit(0);
  }
  group.stop_and_join();
  if (outbox) outbox->stop();  // what is not delivered stays owed, on disk
  if (pre_create) pre_create->stop();
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
