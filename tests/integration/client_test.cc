// Proves the resumable client `ringest` against the real ringestd: uploads arrive byte-exact
// (SHA-256) with their metadata, in bounded client memory; a client killed mid-upload resumes
// its upload when run again (no second POST); a server killed and restarted mid-upload is
// retried through; status/delete and every documented exit code (2 usage, 3 gave up, 4 refused,
// 5 file changed) behave as `ringest --help` says. The client runs as a subprocess; every wait
// is bounded, everything is on loopback, and only processes started here are signalled, by PID.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

#ifdef RINGEST_CLIENT_PATH
const std::string kClientPath = RINGEST_CLIENT_PATH;
#else
// tests/CMakeLists.txt names the client's path when it knows the target; until then it is the
// ringest next to ringestd (both land in CMAKE_RUNTIME_OUTPUT_DIRECTORY).
const std::string kClientPath =
    std::string(RINGESTD_PATH).substr(0, std::string(RINGESTD_PATH).rfind('/') + 1) + "ringest";
#endif

constexpr uint64_t kMiB = 1 << 20;
constexpr int kClientTimeoutMs = 120000;  // generous for the sanitizer build
// Resume scenarios: enough small chunks that the upload takes far longer (about a second,
// 1536 PATCHes) than the test needs to react to its first acknowledged chunk.
constexpr uint64_t kResumeFileBytes = 48 * kMiB;
constexpr const char* kResumeChunk = "32K";

bool wait_until(const std::function<bool()>& done, int timeout_ms = 60000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}



// An independent base64 (OpenSSL's) to check the client's hand-written one.
std::string base64(const std::string& text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// "http://127.0.0.1:1234/files/<id>" -> "/files/<id>" (what test_support's helpers take).
std::string path_of(const std::string& url) {
  size_t slash = url.find('/', url.find("://") + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// One line of --log-offsets: "<unix_ms> <status> <method> <url> <offset>".
struct LogLine {
  uint64_t unix_ms = 0;
  int status = 0;
  std::string method;
  std::string url;
  uint64_t offset = 0;
};

std::vector<LogLine> read_log(const std::string& path) {
  std::vector<LogLine> lines;
  std::istringstream in(read_file(path));
  std::string text;
  while (std::getline(in, text)) {
    std::istringstream fields(text);
    LogLine l;
    if (fields >> l.unix_ms >> l.status >> l.method >> l.url >> l.offset) lines.push_back(l);
  }
  return lines;
}

size_t count_method(const std::vector<LogLine>& log, const std::string& method) {
  size_t n = 0;
  for (const LogLine& l : log) n += l.method == method;
  return n;
}

// Entries left in a state file (lines that are not the header comment).
size_t state_entries(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += !line.empty() && line[0] != '#';
  return n;
}

struct ClientResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
  long peak_rss_kb = 0;  // highest VmHWM sampled while it ran (0: never sampled)
};

// The client binary as a child process with stdout and stderr in files under `dir`, and
// XDG_STATE_HOME pointed there too so no test can touch the real ~/.local/state.
class ClientProcess {
 public:
  ClientProcess(const std::string& dir, const std::vector<std::string>& args) {
    static int counter = 0;
    std::string base = dir + "/client-" + std::to_string(++counter);
    out_path_ = base + ".out";
    err_path_ = base + ".err";
    std::vector<std::string> argv_strings = {kClientPath};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = std::freopen(out_path_.c_str(), "w", stdout);
      FILE* err = std::freopen(err_path_.c_str(), "w", stderr);
      if (out == nullptr || err == nullptr) _exit(126);
      setenv("XDG_STATE_HOME", dir.c_str(), 1);
      std::vector<char*> argv;
      for (auto& a : argv_strings) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ClientProcess() { kill9(); }
  ClientProcess(const ClientProcess&) = delete;
  ClientProcess& operator=(const ClientProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    sample_peak_rss();
    return reap(WNOHANG) == 0;
  }
  std::string err_so_far() const { return read_file(err_path_); }

  // Waits for the exit; a client still running after `timeout_ms` is killed (exit_code -1).
  ClientResult wait(int timeout_ms = kClientTimeoutMs) {
    bool exited = wait_until([&] { return !running(); }, timeout_ms);
    if (!exited) kill9();
    result_.out = read_file(out_path_);
    result_.err = read_file(err_path_);
    return result_;
  }
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    reap(0);
  }

 private:
  // waitpid once; returns the pid when the child is gone (and records how), 0 if it still runs.
  pid_t reap(int flags) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, flags);
    if (r == pid_) {
      pid_ = -1;
      result_.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return r;
  }
  // The client's own peak resident memory. Not ru_maxrss: a forked child's counts the test
  // process's pages until exec (and AddressSanitizer keeps freed test data resident). VmHWM
  // starts afresh at exec and only grows, so any sample after the peak sees it.
  void sample_peak_rss() {
    std::istringstream status(read_file("/proc/" + std::to_string(pid_) + "/status"));
    std::string key;
    bool is_client = false;
    while (status >> key) {
      if (key == "Name:") {
        std::string name;
        status >> name;
        is_client = name == "ringest";  // not yet exec'd: the test binary's name
      } else if (key == "VmHWM:" && is_client) {
        long kb = 0;
        status >> kb;
        result_.peak_rss_kb = std::max(result_.peak_rss_kb, kb);
      }
    }
  }

  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  ClientResult result_;
};

class ClientTest : public ::testing::Test {
 protected:
  void start_server(std::vector<std::string> args = {}, uint16_t port = 0) {
    server_.reset();
    server_ = std::make_unique<Server>(data_dir(), std::move(args), port);
    server_->start();
    port_ = server_->port();
  }
  std::string data_dir() const { return dir_.path() + "/data"; }
  std::string collection() const { return "http://127.0.0.1:" + std::to_string(port_) + "/files/"; }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string stored_file(const std::string& url) const {
    return data_dir() + "/uploads/" + id_of(url) + ".bin";
  }
  ClientResult run(const std::vector<std::string>& args, int timeout_ms = kClientTimeoutMs) {
    ClientProcess client(dir_.path(), args);
    return client.wait(timeout_ms);
  }
  // Starts an upload of `file` and SIGKILLs the client once the server has acknowledged a
  // chunk. Returns the upload URL (from the POST line of `log`), or "" on failure.
  std::string start_then_kill(const std::string& file, const std::string& state,
                              const std::string& log) {
    ClientProcess client(dir_.path(), {"upload", file, collection(), "--chunk-bytes", kResumeChunk,
                                       "--state-file", state, "--log-offsets", log, "--quiet"});
    bool acknowledged = wait_until([&] { return count_method(read_log(log), "PATCH") > 0; });
    client.kill9();
    EXPECT_TRUE(acknowledged) << "no PATCH acknowledged; stderr: " << client.err_so_far();
    for (const LogLine& l : read_log(log)) {
      if (l.method == "POST") return l.url;
    }
    ADD_FAILURE() << "no POST in the offset log";
    return {};
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ClientTest, UploadsInChunksWithMetadata) {
  start_server();
  std::string content = random_bytes(40 * kMiB + 12345, 1);
  std::string file = path("photo one.bin");
  write_file(file, content);
  std::string log = path("offsets.log");
  // No --state-file: the default, under $XDG_STATE_HOME (ClientProcess points it at dir_).
  std::string state = path("ringest/uploads");

  ClientResult r =
      run({"upload", file, collection(), "--chunk-bytes", "4M", "--metadata", "note=hello, world",
           "--metadata", "empty=", "--log-offsets", log, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "--quiet prints nothing on success";
  ASSERT_EQ(r.out.rfind(collection(), 0), 0u) << r.out;
  std::string url = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(r.out, url + "\n") << "stdout is the absolute upload URL and nothing else";
  EXPECT_EQ(sha256_file(stored_file(url)), sha256_hex(content));

  auto head = tus_head(port_, path_of(url));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("upload-offset"), std::to_string(content.size()));
  EXPECT_EQ(head->header("upload-metadata"),
            "filename " + base64("photo one.bin") + ",note " + base64("hello, world") + ",empty");

  // One POST, then 4 MiB PATCHes whose reported offsets climb to the length.
  std::vector<LogLine> lines = read_log(log);
  ASSERT_EQ(lines.size(), 1 + (content.size() + 4 * kMiB - 1) / (4 * kMiB));
  EXPECT_EQ(lines[0].method, "POST");
  EXPECT_EQ(lines[0].status, 201);
  EXPECT_EQ(lines[0].url, url);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].method, "PATCH");
    EXPECT_EQ(lines[i].status, 204);
    EXPECT_EQ(lines[i].offset, std::min<uint64_t>(i * 4 * kMiB, content.size()));
  }
  EXPECT_FALSE(read_file(state).empty()) << "the default state file was used";
  EXPECT_EQ(state_entries(state), 0u) << "the entry is removed once the upload is complete";
  EXPECT_EQ(metric(port_, "ringest_uploads_completed_total"), 1u);
}

TEST_F(ClientTest, StreamsFromDiskInBoundedMemory) {
  start_server();
  std::string content = random_bytes(40 * kMiB, 2);
  std::string file = path("big.bin");
  write_file(file, content);
  // Default --chunk-bytes (64M): the whole file is one PATCH, so a client that held its chunk
  // in memory would pass 40 MiB of resident memory.
  ClientResult r = run({"upload", file, collection(), "--state-file", path("state"), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sha256_file(stored_file(r.out.substr(0, r.out.size() - 1))), sha256_hex(content));
// Measured about 12 MiB (22 MiB with AddressSanitizer's shadow memory); both limits are below
// the 40 MiB a buffered chunk would add.
#if defined(__SANITIZE_ADDRESS__)
  constexpr long kMaxRssKiB = 36 * 1024;
#else
  constexpr long kMaxRssKiB = 24 * 1024;
#endif
  EXPECT_GT(r.peak_rss_kb, 0) << "never sampled";
  EXPECT_LT(r.peak_rss_kb, kMaxRssKiB) << "client peak RSS in KiB";
}

TEST_F(ClientTest, ResumesAfterTheClientIsKilled) {
  start_server();
  std::string content = random_bytes(kResumeFileBytes, 3);
  std::string file = path("resume 100%.bin");  // a space and a % in the state file
  write_file(file, content);
  std::string state = path("state");

  std::string url = start_then_kill(file, state, path("first.log"));
  ASSERT_FALSE(url.empty());
  std::optional<uint64_t> offset = head_offset(port_, path_of(url));
  ASSERT_TRUE(offset);
  ASSERT_GT(*offset, 0u);
  ASSERT_LT(*offset, content.size()) << "the first run must not have finished";
  EXPECT_EQ(state_entries(state), 1u);

  std::string log = path("second.log");
  ClientResult r = run({"upload", file, collection(), "--chunk-bytes", kResumeChunk, "--state-file",
                        state, "--log-offsets", log});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, url + "\n") << "the same upload was completed";
  EXPECT_NE(r.err.find("resuming " + url), std::string::npos) << r.err;
  std::vector<LogLine> lines = read_log(log);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].method, "HEAD");
  EXPECT_GT(lines[0].offset, 0u) << "resumed where the server was, not from 0";
  EXPECT_EQ(count_method(lines, "POST"), 0u);
  EXPECT_EQ(metric(port_, "ringest_uploads_created_total"), 1u);
  EXPECT_EQ(sha256_file(stored_file(url)), sha256_hex(content));
  EXPECT_EQ(state_entries(state), 0u);
}

TEST_F(ClientTest, RetriesThroughAServerRestart) {
  // A fixed port, so the restarted server is where the client keeps knocking.
  uint16_t port = free_port();
  start_server({}, port);
  std::string content = random_bytes(kResumeFileBytes, 4);
  std::string file = path("retry.bin");
  write_file(file, content);
  std::string log = path("offsets.log");

  ClientProcess client(dir_.path(),
                       {"upload", file, collection(), "--chunk-bytes", kResumeChunk, "--state-file",
                        path("state"), "--log-offsets", log, "--retry-delay-ms", "50", "--retries",
                        "20", "--max-retry-delay-ms", "1000"});
  ASSERT_TRUE(wait_until([&] { return count_method(read_log(log), "PATCH") > 0; }))
      << client.err_so_far();
  server_->kill9();
  ASSERT_TRUE(client.running()) << "the upload finished before the server was killed";
  // Let it meet refused connections for a while, then bring the server back on the same port
  // and data directory.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  start_server({}, port);
  ClientResult r = client.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string url = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(sha256_file(stored_file(url)), sha256_hex(content));
  EXPECT_NE(r.err.find("retry 1/20"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Couldn't connect"), std::string::npos) << "it retried while down";

  // Every offset the server reported is durable, so none is ever lower than an earlier one,
  // across the kill; and the client asked (HEAD) before resending.
  std::vector<LogLine> lines = read_log(log);
  ASSERT_FALSE(lines.empty());
  EXPECT_GE(count_method(lines, "HEAD"), 1u);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_GE(lines[i].offset, lines[i - 1].offset) << "line " << i;
  }
  EXPECT_EQ(lines.back().offset, content.size());
}

TEST_F(ClientTest, StatusAndDelete) {
  start_server();
  std::string loc = tus_create(port_, 10);
  ASSERT_FALSE(loc.empty());
  auto p = tus_patch(port_, loc, 0, "01234");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->status, 204);
  std::string url = "http://127.0.0.1:" + std::to_string(port_) + loc;
  std::string state = path("state");

  ClientResult r = run({"status", url});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "offset 5 length 10\n");

  r = run({"delete", url, "--state-file", state});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(head_offset(port_, loc)) << "the upload is gone";

  r = run({"status", url});
  EXPECT_EQ(r.exit_code, 4) << "404 is a refusal";
  EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;
  r = run({"delete", url, "--state-file", state});
  EXPECT_EQ(r.exit_code, 4);

  // Nobody listening: retries run out -> 3.
  std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port()) + "/files/";
  r = run({"status", nowhere + "0123456789abcdef0123456789abcdef", "--retries", "2",
           "--retry-delay-ms", "1"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("giving up"), std::string::npos) << r.err;
  std::string file = path("small.bin");
  write_file(file, "abc");
  r = run(
      {"upload", file, nowhere, "--retries", "1", "--retry-delay-ms", "1", "--state-file", state});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(ClientTest, ServerRefusalExitsFour) {
  start_server({"--max-upload-bytes", "1M"});
  std::string file = path("too-big.bin");
  write_file(file, random_bytes(2 * kMiB, 5));
  ClientResult r = run({"upload", file, collection(), "--state-file", path("state")});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("413"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(metric(port_, "ringest_uploads_created_total"), 0u);
}

TEST_F(ClientTest, BadUsageExitsTwo) {
  std::string file = path("f.bin");
  write_file(file, "x");
  const std::string url = "http://127.0.0.1:9/files/";  // never contacted
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"fly", file, url},
      {"upload", file},
      {"upload", file, url, "extra"},
      {"upload", file, url, "--chunk-bytes", "4X"},
      {"upload", file, url, "--chunk-bytes", "0"},
      {"upload", file, url, "--retries", "-1"},
      {"upload", file, url, "--metadata", "novalue"},
      {"upload", file, url, "--metadata", "bad key=v"},
      {"upload", file, url, "--metadata", "k=1", "--metadata", "k=2"},
      {"upload", file, url, "--no-such-flag", "1"},
      {"upload", file, "ftp://127.0.0.1/files/"},
      {"status"},
      {"status", url, "--chunk-bytes"},
  };
  for (const auto& args : bad) {
    ClientResult r = run(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_NE(r.err.find("--help"), std::string::npos) << joined;
  }
  ClientResult help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word :
       {"upload", "status", "delete", "--chunk-bytes", "--retries", "--retry-delay-ms",
        "--state-file", "--metadata", "--log-offsets", "--quiet", "Exit codes"}) {
    EXPECT_NE(help.out.find(word), std::string::npos) << word;
  }
}

TEST_F(ClientTest, ChangedFileStartsANewUpload) {
  start_server();
  std::string content = random_bytes(kResumeFileBytes, 6);
  std::string file = path("grows.bin");
  write_file(file, content);
  std::string state = path("state");
  std::string first = start_then_kill(file, state, path("first.log"));
  ASSERT_FALSE(first.empty());

  // Appending changes size and mtime: the remembered upload holds other bytes now.
  content += random_bytes(4096, 7);
  write_file(file, content);
  std::string log = path("second.log");
  ClientResult r = run({"upload", file, collection(), "--chunk-bytes", "4M", "--state-file", state,
                        "--log-offsets", log, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string url = r.out.substr(0, r.out.size() - 1);
  EXPECT_NE(url, first);
  EXPECT_EQ(count_method(read_log(log), "POST"), 1u);
  EXPECT_EQ(metric(port_, "ringest_uploads_created_total"), 2u);
  EXPECT_EQ(sha256_file(stored_file(url)), sha256_hex(content));
  EXPECT_EQ(state_entries(state), 0u) << "one entry per path: the stale one was replaced";
}

TEST_F(ClientTest, GoneUploadStartsAgainAndDeleteForgetsIt) {
  start_server();
  std::string content = random_bytes(kResumeFileBytes, 9);
  std::string file = path("again.bin");
  write_file(file, content);
  std::string state = path("state");
  std::string first = start_then_kill(file, state, path("first.log"));
  ASSERT_FALSE(first.empty());
  // Someone else terminates the remembered upload: HEAD says 404, so the client starts anew.
  auto d = request(
      port_, "DELETE " + path_of(first) + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->status, 204);
  ClientResult r =
      run({"upload", file, collection(), "--chunk-bytes", "4M", "--state-file", state});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string url = r.out.substr(0, r.out.size() - 1);
  EXPECT_NE(url, first);
  EXPECT_NE(r.err.find("remembered upload " + first + " is gone (404)"), std::string::npos)
      << r.err;
  EXPECT_EQ(metric(port_, "ringest_uploads_created_total"), 2u);
  EXPECT_EQ(sha256_file(stored_file(url)), sha256_hex(content));

  // `ringest delete` of a remembered URL also drops its state entry.
  std::string third = start_then_kill(file, state, path("third.log"));
  ASSERT_FALSE(third.empty());
  EXPECT_EQ(state_entries(state), 1u);
  r = run({"delete", third, "--state-file", state});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state_entries(state), 0u);
}

TEST_F(ClientTest, FileChangedDuringUploadExitsFive) {
  // Deterministic without test hooks: leave a half-done upload, freeze the server (SIGSTOP),
  // start the client again (it keys the file, then waits on its HEAD), change the file, thaw
  // the server. The client resumes at offset > 0 and must refuse to send the next chunk.
  start_server();
  std::string content = random_bytes(kResumeFileBytes, 8);
  std::string file = path("edited.bin");
  write_file(file, content);
  std::string state = path("state");
  std::string url = start_then_kill(file, state, path("first.log"));
  ASSERT_FALSE(url.empty());

  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  std::string log = path("second.log");
  ClientProcess client(dir_.path(), {"upload", file, collection(), "--chunk-bytes", kResumeChunk,
                                     "--state-file", state, "--log-offsets", log});
  bool keyed = wait_until(
      [&] { return client.err_so_far().find("ringest: uploading") != std::string::npos; });
  if (keyed) {
    std::ofstream(file, std::ios::binary | std::ios::app) << "one more line\n";
  }
  ASSERT_EQ(::kill(server_->pid(), SIGCONT), 0);
  ASSERT_TRUE(keyed) << client.err_so_far();
  ClientResult r = client.wait();
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("changed during the upload"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  std::vector<LogLine> lines = read_log(log);
  ASSERT_EQ(lines.size(), 1u) << "a HEAD and no PATCH";
  EXPECT_EQ(lines[0].method, "HEAD");
  EXPECT_GT(lines[0].offset, 0u) << "it was resuming when it noticed";
}

}  // namespace
}  // namespace ringest::test
