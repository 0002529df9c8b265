// Proves that ringestd answers every malformed or hostile request in tests/hostile/cases.tsv
// with the status the table gives (RFC 9110/9112, tus 1.0.0) and closes the connection where
// the table says so, and that no case changes what it must not: after every batch of cases and
// after the whole matrix, an ordinary tus upload still works, the known in-progress upload kept
// its committed offset and bytes, the completed one its content, the data directory and its
// parents hold no file nobody asked for, the log holds no raw control bytes, the server drains
// cleanly on SIGTERM and recovers every upload on restart. The table's format is documented at
// its top; a case fails the test unless its `xfail` column names a known defect.
#include <array>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

#ifndef HOSTILE_CASES_PATH
#error "HOSTILE_CASES_PATH must name tests/hostile/cases.tsv"
#endif

namespace ringest::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The fixed state every server starts the matrix with.
constexpr uint64_t kIdLength = 100;
constexpr std::string_view kIdContent = "0123456789";  // committed prefix of {ID}
constexpr std::string_view kDoneContent = "done";      // {DONE}, complete
constexpr uint64_t kNewLength = 16;                    // every {NEW} upload
constexpr size_t kRoundTripBytes = 100;  // the ordinary upload between batches (fits any flags)
constexpr std::string_view kMissingId = "0123456789abcdef0123456789abcdef";
const std::vector<std::string> kDefaultFlags = {"--max-upload-bytes", "1M"};
constexpr size_t kBatchCases = 16;
constexpr int kWorkers = 8;
constexpr int kOpenGraceMs = 300;  // a connection that stays open this long counts as open
constexpr int kAnyGraceMs = 100;   // extra wait for surplus responses when `close` is '-'
constexpr int kDefaultTimeoutMs = 5000;

enum class CloseRule { kAny, kClose, kOpen };

struct Case {
  int line = 0;
  std::string name;
  std::vector<int> expect;  // statuses in order; empty: no response at all
  CloseRule close = CloseRule::kAny;
  bool check_stored = false;
  bool stored_prefix = false;  // `~"..."`: what {NEW} holds is some prefix of `stored`
  std::string stored;
  bool halfclose = false;
  bool all_head = false;
  std::set<int> head_responses;  // 1-based responses that answer HEAD requests
  int timeout_ms = kDefaultTimeoutMs;
  std::string flags;
  std::vector<std::pair<std::string, std::string>> files;  // name, content: made before start
  std::string runner_headers;  // field lines the runner's own requests carry
  std::vector<std::pair<std::string, std::string>> want_headers;  // lowercase name, value
  std::vector<std::string> unwanted_headers;                      // lowercase names
  std::string xfail;
  std::string request;  // as written in the table
};

struct Placeholders {
  std::string id, id_upper, done, missing, new_id;
};

struct Segment {
  std::string bytes;
  int pause_ms_after = 0;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string escape_bytes(std::string_view bytes, size_t limit = 600) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  for (; i < bytes.size() && out.size() < limit; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (i < bytes.size()) out += "... (" + std::to_string(bytes.size()) + " bytes in all)";
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Expands the table's text form (escapes, placeholders, repetition, pauses) into segments to
// send. Returns an error message, or "" on success.
std::string expand(std::string_view text, const Placeholders& p, std::vector<Segment>* out,
                   bool allow_pause = true) {
  if (out->empty()) out->push_back({});
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return "a lone backslash at the end";
      char e = text[++i];
      switch (e) {
        case 'r':
          out->back().bytes += '\r';
          break;
        case 'n':
          out->back().bytes += '\n';
          break;
        case 't':
          out->back().bytes += '\t';
          break;
        case '0':
          out->back().bytes += '\0';
          break;
        case '\\':
          out->back().bytes += '\\';
          break;
        case '{':
          out->back().bytes += '{';
          break;
        case '}':
          out->back().bytes += '}';
          break;
        case 'x': {
          int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
          int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
          if (hi < 0 || lo < 0) return "\\x wants two hex digits";
          out->back().bytes += static_cast<char>(hi * 16 + lo);
          i += 2;
          break;
        }
        default:
          return std::string("unknown escape \\") + e;
      }
      continue;
    }
    if (c != '{') {
      out->back().bytes += c;
      continue;
    }
    size_t close = i + 1;  // the matching '}': repetitions nest, as in {X: {a*9}\r\n*3}
    for (int depth = 1; close < text.size(); ++close) {
      if (text[close] == '\\') {
        ++close;
      } else if (text[close] == '{') {
        ++depth;
      } else if (text[close] == '}' && --depth == 0) {
        break;
      }
    }
    if (close >= text.size()) return "an unclosed '{'";
    std::string_view inner = text.substr(i + 1, close - i - 1);
    i = close;
    if (inner == "ID") {
      out->back().bytes += p.id;
    } else if (inner == "ID_UPPER") {
      out->back().bytes += p.id_upper;
    } else if (inner == "DONE") {
      out->back().bytes += p.done;
    } else if (inner == "MISSING") {
      out->back().bytes += p.missing;
    } else if (inner == "NEW") {
      if (p.new_id.empty()) return "{NEW} without an upload";
      out->back().bytes += p.new_id;
    } else if (inner == "PAUSE" || inner.substr(0, 6) == "PAUSE=") {
      if (!allow_pause) return "{PAUSE} inside a repetition";
      int ms = inner == "PAUSE" ? 250 : std::atoi(std::string(inner.substr(6)).c_str());
      if (ms <= 0 || ms > 60000) return "bad pause";
      out->back().pause_ms_after += ms;
      out->push_back({});
    } else {
      size_t star = inner.rfind('*');
      if (star == std::string_view::npos || star + 1 >= inner.size()) {
        return "unknown placeholder {" + std::string(inner) + "}";
      }
      std::string count_text(inner.substr(star + 1));
      if (count_text.find_first_not_of("0123456789") != std::string::npos) {
        return "bad repetition count in {" + std::string(inner) + "}";
      }
      long count = std::atol(count_text.c_str());
      if (count <= 0 || count > 10'000'000) return "repetition count out of range";
      std::vector<Segment> unit;
      std::string error = expand(inner.substr(0, star), p, &unit, false);
      if (!error.empty()) return error;
      for (long k = 0; k < count; ++k) out->back().bytes += unit.front().bytes;
    }
  }
  return "";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

// Parses cases.tsv. Errors (with line numbers) go to *errors.
std::vector<Case> load_cases(const std::string& path, std::vector<std::string>* errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors->push_back("cannot open " + path);
    return {};
  }
  std::vector<Case> cases;
  std::set<std::string> names;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    auto fail = [&](const std::string& why) {
      errors->push_back("cases.tsv:" + std::to_string(line_no) + ": " + why);
    };
    std::vector<std::string> f = split(line, '\t');
    if (f.size() != 7) {
      fail("want 7 tab-separated columns, got " + std::to_string(f.size()));
      continue;
    }
    Case c;
    c.line = line_no;
    c.name = f[0];
    if (c.name.empty() || !names.insert(c.name).second) fail("empty or repeated name");
    if (f[1] != "-") {
      for (const std::string& s : split(f[1], ',')) {
        int status = std::atoi(s.c_str());
        if (status < 100 || status > 599 || s.size() != 3) fail("bad status '" + s + "'");
        c.expect.push_back(status);
      }
    }
    if (f[2] == "close") {
      c.close = CloseRule::kClose;
    } else if (f[2] == "open") {
      c.close = CloseRule::kOpen;
    } else if (f[2] != "-") {
      fail("close column wants close, open or -");
    }
    if (f[3] != "-") {
      std::string s = f[3];
      if (!s.empty() && s[0] == '~') {
        c.stored_prefix = true;
        s.erase(0, 1);
      }
      if (s.size() < 2 || s.front() != '"' || s.back() != '"') {
        fail("stored wants - or \"...\" or ~\"...\"");
      } else {
        std::vector<Segment> segs;
        std::string error = expand(s.substr(1, s.size() - 2), Placeholders{}, &segs, false);
        if (!error.empty()) fail("stored: " + error);
        c.check_stored = true;
        c.stored = segs.empty() ? "" : segs.front().bytes;
      }
    }
    if (f[4] != "-") {
      for (const std::string& opt : split(f[4], ';')) {
        if (opt == "halfclose") {
          c.halfclose = true;
        } else if (opt == "head") {
          c.all_head = true;
        } else if (opt.rfind("head=", 0) == 0) {
          for (const std::string& n : split(opt.substr(5), ',')) {
            c.head_responses.insert(std::atoi(n.c_str()));
          }
        } else if (opt.rfind("timeout=", 0) == 0) {
          c.timeout_ms = std::atoi(opt.c_str() + 8);
          if (c.timeout_ms <= 0 || c.timeout_ms > 60000) fail("bad timeout");
        } else if (opt.rfind("flags=", 0) == 0) {
          c.flags = opt.substr(6);
        } else if (opt.rfind("file=", 0) == 0 && opt.find(':') != std::string::npos) {
          std::string name = opt.substr(5, opt.find(':') - 5);
          std::vector<Segment> content;
          std::string error =
              expand(opt.substr(opt.find(':') + 1), Placeholders{}, &content, false);
          if (name.empty() ||
              name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789._-") != std::string::npos ||
              !error.empty()) {
            fail("file= wants NAME:CONTENT with a plain file name");
          } else {
            c.files.emplace_back(name, content.empty() ? "" : content.front().bytes);
          }
        } else if (opt.rfind("header=", 0) == 0 && opt.find(": ") != std::string::npos) {
          size_t colon = opt.find(": ");
          c.want_headers.emplace_back(lower(opt.substr(7, colon - 7)), opt.substr(colon + 2));
        } else if (opt.rfind("runner-header=", 0) == 0 && opt.find(": ") != std::string::npos) {
          c.runner_headers += opt.substr(14) + "\r\n";
        } else if (opt.rfind("noheader=", 0) == 0) {
          c.unwanted_headers.push_back(lower(opt.substr(9)));
        } else {
          fail("unknown option '" + opt + "'");
        }
      }
    }
    if (f[5] != "-") c.xfail = f[5];
    c.request = f[6];
    if (c.request.rfind("HEAD ", 0) == 0) c.head_responses.insert(1);
    bool uses_new = c.request.find("{NEW}") != std::string::npos;
    if (c.check_stored && !uses_new) fail("stored is checked only for {NEW}");
    if (uses_new && !c.check_stored)
      fail("a case with {NEW} says what it stores (\"\" if nothing)");
    Placeholders probe{std::string(32, 'a'), std::string(32, 'A'), std::string(32, 'b'),
                       std::string(kMissingId), std::string(32, 'c')};
    std::vector<Segment> segs;
    std::string error = expand(c.request, probe, &segs);
    if (!error.empty()) fail("request: " + error);
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// The wire: send the bytes, collect every response until the connection settles.

struct WireResponse {
  int status = -1;  // -1: not an HTTP/1.x status line
  std::string head;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

struct WireOutcome {
  std::vector<WireResponse> responses;
  bool closed = false;  // EOF or reset seen
  bool send_failed = false;
  std::string trailing;  // bytes that did not form a complete response
};

// Takes complete responses off the front of `buffer`.
void parse_responses(std::string* buffer, const Case& c, WireOutcome* out) {
  while (true) {
    size_t end = buffer->find("\r\n\r\n");
    if (end == std::string::npos) return;
    WireResponse r;
    r.head = buffer->substr(0, end + 4);
    if (r.head.rfind("HTTP/1.", 0) == 0 && r.head.size() >= 12) {
      r.status = std::atoi(r.head.substr(9, 3).c_str());
    }
    uint64_t content_length = 0;
    std::istringstream lines(r.head);
    std::string l;
    while (std::getline(lines, l)) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      size_t colon = l.find(':');
      if (colon == std::string::npos) continue;
      std::string name = lower(l.substr(0, colon));
      std::string value = l.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "content-length") content_length = std::strtoull(value.c_str(), nullptr, 10);
      r.headers[name] = value;
    }
    int index = static_cast<int>(out->responses.size()) + 1;
    bool head = c.all_head || c.head_responses.count(index) > 0;
    bool bodiless = head || r.status < 200 || r.status == 204 || r.status == 304;
    size_t body = bodiless ? 0 : static_cast<size_t>(content_length);
    if (buffer->size() < end + 4 + body) return;
    r.body = buffer->substr(end + 4, body);
    buffer->erase(0, end + 4 + body);
    out->responses.push_back(std::move(r));
  }
}

WireOutcome run_wire(uint16_t port, const std::vector<Segment>& segments, const Case& c) {
  WireOutcome out;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{c.timeout_ms / 1000, (c.timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    ::close(fd);
    out.send_failed = true;
    out.closed = true;
    return out;
  }
  for (const Segment& s : segments) {
    size_t pos = 0;
    while (pos < s.bytes.size() && !out.send_failed) {
      ssize_t n = ::send(fd, s.bytes.data() + pos, s.bytes.size() - pos, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        out.send_failed = true;  // the server closed early: its answer may still be readable
      } else {
        pos += static_cast<size_t>(n);
      }
    }
    if (s.pause_ms_after > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(s.pause_ms_after));
  }
  if (c.halfclose) ::shutdown(fd, SHUT_WR);

  std::string buffer;
  auto deadline = Clock::now() + std::chrono::milliseconds(c.timeout_ms);
  std::optional<Clock::time_point> settle;  // set once the expected responses are in
  while (true) {
    auto now = Clock::now();
    auto until = settle ? std::min(*settle, deadline) : deadline;
    if (now >= until) break;
    int wait_ms = static_cast<int>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) +
                  1;
    pollfd p{fd, POLLIN, 0};
    int ready = poll(&p, 1, std::min(wait_ms, 50));
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) {
      char chunk[65536];
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        out.closed = true;  // EOF, or a reset
        break;
      }
      buffer.append(chunk, static_cast<size_t>(n));
      parse_responses(&buffer, c, &out);
    }
    if (!settle && out.responses.size() >= c.expect.size() && buffer.empty() &&
        c.close != CloseRule::kClose) {
      settle = Clock::now() +
               std::chrono::milliseconds(c.close == CloseRule::kOpen ? kOpenGraceMs : kAnyGraceMs);
    }
  }
  parse_responses(&buffer, c, &out);
  out.trailing = buffer;
  ::close(fd);
  return out;
}

// ---------------------------------------------------------------------------------------------
// One server and its known state.

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string id_from_location(const std::string& location) {
  std::string path = location.substr(0, location.find('?'));
  return id_of(path);
}

std::string read_prefix(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string data(n, '\0');
  in.read(data.data(), static_cast<std::streamsize>(n));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

// The runner's own requests: setup, and the checks between batches. `extra` holds field lines
// every one of them carries (the runner-header option: credentials, say).
struct RunnerClient {
  uint16_t port = 0;
  std::string extra;

  std::optional<Response> send(const std::string& method_target, const std::string& fields,
                               std::string_view body = {}, bool head = false) const {
    std::string raw = method_target + " HTTP/1.1\r\nHost: t\r\n" + extra + fields +
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    raw.append(body);
    return request(port, raw, head);
  }
  std::string create(uint64_t length) const {
    auto r = send("POST /files/",
                  "Tus-Resumable: 1.0.0\r\nUpload-Length: " + std::to_string(length) + "\r\n");
    return r && r->status == 201 ? r->header("location") : std::string();
  }
  std::optional<Response> patch(const std::string& location, uint64_t offset,
                                std::string_view data) const {
    return send("PATCH " + location,
                "Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
                "Upload-Offset: " +
                    std::to_string(offset) + "\r\n",
                data);
  }
  std::optional<Response> head(const std::string& location) const {
    return send("HEAD " + location, "Tus-Resumable: 1.0.0\r\n", {}, true);
  }
  std::optional<Response> get(const std::string& location) const {
    return send("GET " + location, "");
  }
  std::optional<uint64_t> offset(const std::string& location) const {
    auto r = head(location);
    if (!r || r->status != 200 || r->header("upload-offset").empty()) return std::nullopt;
    return std::stoull(r->header("upload-offset"));
  }
};

struct CaseResult {
  bool ran = false;
  bool passed = false;
  int64_t elapsed_ms = 0;
  std::string report;
};

class Matrix {
 public:
  Matrix(const std::string& root, std::vector<std::string> flags, std::string runner_headers)
      : root_(root), srv_dir_(root + "/srv"), data_dir_(srv_dir_ + "/data"), flags_(flags) {
    // Hundreds of cases leave uploads unfinished from one address, more than one anonymous
    // client may hold by default; the per-client bound has its own tests (disk_budget_test.cc).
    flags_.push_back("--max-uploads-per-client=0");
    fs::create_directories(srv_dir_);
    client_.extra = std::move(runner_headers);
  }

  // Starts the server and makes the known uploads. False (with a message) if that fails.
  bool start(std::string* error) {
    server_ = std::make_unique<Server>(data_dir_, flags_);
    server_->start();
    port_ = server_->port();
    client_.port = port_;
    std::string id_loc = client_.create(kIdLength);
    std::string done_loc = client_.create(kDoneContent.size());
    if (id_loc.empty() || done_loc.empty()) {
      *error = "cannot create the known uploads";
      return false;
    }
    auto p1 = client_.patch(id_loc, 0, kIdContent);
    auto p2 = client_.patch(done_loc, 0, kDoneContent);
    if (!p1 || p1->status != 204 || !p2 || p2->status != 204) {
      *error = "cannot write the known uploads";
      return false;
    }
    places_.id = id_from_location(id_loc);
    places_.id_upper = upper(places_.id);
    places_.done = id_from_location(done_loc);
    places_.missing = std::string(kMissingId);
    remember(places_.id);
    remember(places_.done);
    return true;
  }

  uint16_t port() const { return port_; }
  Server& server() { return *server_; }
  const Placeholders& places() const { return places_; }
  const RunnerClient& client() const { return client_; }
  const std::string& data_dir() const { return data_dir_; }

  void remember(const std::string& id) {
    std::lock_guard lock(mu_);
    known_.insert(id);
  }

  CaseResult run_case(const Case& c) {
    CaseResult result;
    result.ran = true;
    Placeholders p = places_;
    bool uses_new = c.request.find("{NEW}") != std::string::npos;
    if (uses_new) {
      std::string loc = client_.create(kNewLength);
      if (loc.empty()) {
        result.report = "could not create the {NEW} upload";
        return result;
      }
      p.new_id = id_from_location(loc);
      remember(p.new_id);
    }
    std::vector<Segment> segments;
    std::string error = expand(c.request, p, &segments);
    if (!error.empty()) {
      result.report = "bad request text: " + error;
      return result;
    }
    WireOutcome w = run_wire(port_, segments, c);
    for (const WireResponse& r : w.responses) {
      // A creation names the upload it made: 201, or 460 (and 400 for a bad checksum trailer)
      // when the body's digest did not count: the upload exists, without those bytes.
      auto location = r.headers.find("location");
      if ((r.status == 201 || r.status == 460 || r.status == 400) && location != r.headers.end()) {
        remember(id_from_location(location->second));
      }
      // FilePond's creation names it as the whole body (200, text/plain).
      if (r.status == 200 && c.request.rfind("POST /filepond", 0) == 0 && r.body.size() == 32) {
        remember(r.body);
      }
    }

    std::vector<std::string> problems;
    std::vector<int> statuses;
    for (const WireResponse& r : w.responses) statuses.push_back(r.status);
    if (statuses != c.expect) problems.push_back("status");
    if (!w.trailing.empty()) problems.push_back("incomplete response");
    for (const auto& [name, value] : c.want_headers) {
      auto it = w.responses.empty() ? std::map<std::string, std::string>::const_iterator()
                                    : w.responses[0].headers.find(name);
      if (w.responses.empty() || it == w.responses[0].headers.end() || it->second != value) {
        problems.push_back("header " + name + " is not '" + value + "'");
      }
    }
    for (const std::string& name : c.unwanted_headers) {
      if (!w.responses.empty() && w.responses[0].headers.count(name)) {
        problems.push_back("unwanted header " + name);
      }
    }
    if (c.close == CloseRule::kClose && !w.closed) problems.push_back("connection left open");
    if (c.close == CloseRule::kOpen && w.closed) problems.push_back("connection closed");
    std::string stored_note;
    if (uses_new) {
      std::string loc = "/files/" + p.new_id;
      std::optional<uint64_t> offset = client_.offset(loc);
      std::string bytes = offset ? read_prefix(data_dir_ + "/uploads/" + p.new_id + ".bin",
                                               static_cast<size_t>(*offset))
                                 : std::string();
      bool ok = offset.has_value() && bytes.size() == *offset &&
                (c.stored_prefix ? c.stored.compare(0, bytes.size(), bytes) == 0 &&
                                       bytes.size() <= c.stored.size()
                                 : bytes == c.stored);
      if (!ok) problems.push_back("stored bytes");
      stored_note = offset
                        ? "offset " + std::to_string(*offset) + " \"" + escape_bytes(bytes) + "\""
                        : "HEAD failed";
    }
    if (!server_->running()) problems.push_back("server died");

    result.passed = problems.empty();
    std::string all_bytes;
    for (const Segment& s : segments) all_bytes += s.bytes;
    std::ostringstream r;
    r << "case '" << c.name << "' (cases.tsv:" << c.line << ")";
    for (size_t i = 0; i < problems.size(); ++i) r << (i ? ", " : ": ") << problems[i];
    r << "\n  sent:     \"" << escape_bytes(all_bytes) << "\""
      << (c.halfclose ? " + half-close" : "") << (w.send_failed ? " (send cut short)" : "");
    r << "\n  expected: " << (c.expect.empty() ? "no response" : "");
    for (size_t i = 0; i < c.expect.size(); ++i) r << (i ? "," : "") << c.expect[i];
    r << (c.close == CloseRule::kClose  ? ", then close"
          : c.close == CloseRule::kOpen ? ", stays open"
                                        : "");
    if (c.check_stored)
      r << "; {NEW} holds " << (c.stored_prefix ? "a prefix of " : "") << "\""
        << escape_bytes(c.stored) << "\"";
    r << "\n  actual:   " << (statuses.empty() ? "no response" : "");
    for (size_t i = 0; i < statuses.size(); ++i) r << (i ? "," : "") << statuses[i];
    r << (w.closed ? ", closed" : ", open");
    if (uses_new) r << "; {NEW} " << stored_note;
    if (!w.responses.empty())
      r << "\n  first response head: \"" << escape_bytes(w.responses[0].head) << "\"";
    if (!w.trailing.empty()) r << "\n  unparsed: \"" << escape_bytes(w.trailing) << "\"";
    result.report = r.str();
    return result;
  }

  // Everything that must hold between cases. Returns the problems found.
  std::vector<std::string> check_invariants(const std::string& where) {
    std::vector<std::string> problems;
    auto fail = [&](const std::string& what) { problems.push_back(where + ": " + what); };
    if (!server_->running()) {
      fail("the server is not running");
      return problems;
    }
    auto h = client_.head("/files/" + places_.id);
    if (!h || h->status != 200 || h->header("upload-offset") != std::to_string(kIdContent.size()) ||
        h->header("upload-length") != std::to_string(kIdLength)) {
      fail("{ID} changed: HEAD says " +
           (h ? std::to_string(h->status) + " offset " + h->header("upload-offset")
              : std::string("nothing")));
    }
    if (read_prefix(data_dir_ + "/uploads/" + places_.id + ".bin", kIdContent.size()) !=
        kIdContent) {
      fail("{ID}'s committed bytes changed");
    }
    auto g = client_.get("/files/" + places_.done);
    if (!g || g->status != 200 || g->body != kDoneContent)
      fail("{DONE} is no longer complete and intact");

    // An ordinary upload, start to finish, and its bytes on disk.
    std::string payload = random_bytes(kRoundTripBytes, ++round_trips_);
    std::string loc = client_.create(payload.size());
    if (loc.empty()) {
      fail("creating an upload failed");
    } else {
      remember(id_from_location(loc));
      auto p = client_.patch(loc, 0, payload.substr(0, kRoundTripBytes / 2));
      auto q = client_.patch(loc, kRoundTripBytes / 2, payload.substr(kRoundTripBytes / 2));
      std::optional<uint64_t> offset = client_.offset(loc);
      auto got = client_.get(loc);
      if (!p || p->status != 204 || !q || q->status != 204 || offset != payload.size() || !got ||
          got->status != 200 || got->body != payload ||
          sha256_file(data_dir_ + "/uploads/" + id_from_location(loc) + ".bin") !=
              sha256_hex(payload)) {
        fail("an ordinary tus upload (POST, PATCH, PATCH, HEAD, GET) did not work");
      }
    }
    for (const std::string& stray : stray_files()) fail("unexpected file " + stray);
    return problems;
  }

  // Every path under the test's root that is not the server's own layout or a known upload.
  std::vector<std::string> stray_files() {
    std::set<std::string> known;
    {
      std::lock_guard lock(mu_);
      known = known_;
    }
    std::vector<std::string> stray;
    const std::set<std::string> layout = {srv_dir_,
                                          data_dir_,
                                          data_dir_ + ".stderr",
                                          data_dir_ + "/ringestd.lock",
                                          data_dir_ + "/uploads",
                                          data_dir_ + "/quarantine"};
    std::error_code ec;
    bool saw_uploads_dir = false;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      std::string path = it->path().string();
      saw_uploads_dir |= path == data_dir_ + "/uploads";
      if (layout.count(path)) continue;
      if (it->path().parent_path() == fs::path(data_dir_ + "/uploads")) {
        std::string file = it->path().filename().string();
        std::string stem = it->path().stem().string();
        std::string ext = it->path().extension().string();
        if ((ext == ".bin" || ext == ".rec") && known.count(stem)) continue;
      }
      stray.push_back(escape_bytes(path));
    }
    // A walk that failed, or never reached the data directory, saw nothing: no strays then
    // would prove nothing.
    if (ec) stray.push_back("cannot list " + root_ + ": " + ec.message());
    if (!saw_uploads_dir) stray.push_back("the walk never reached " + data_dir_ + "/uploads");
    // The server's working directory is the test's: a path escaping the data directory
    // entirely would land there or at the filesystem root.
    for (const char* name : {"hostile-pwned", "/hostile-pwned", "/tmp/hostile-pwned"}) {
      if (fs::exists(name, ec)) stray.push_back(std::string("hostile-pwned at ") + name);
    }
    return stray;
  }

 private:
  std::string root_;
  std::string srv_dir_;
  std::string data_dir_;
  std::vector<std::string> flags_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  RunnerClient client_;
  Placeholders places_;
  std::mutex mu_;
  std::set<std::string> known_;
  uint64_t round_trips_ = 0;
};

// Sanitizer reports known to be false, by name: tolerated and printed, like an xfail case,
// until their fix lands. Any other report fails the test.
struct KnownReport {
  const char* file;     // the report's source file
  const char* message;  // its text after "file:line:column: "
  const char* name;
};
// None now: the GCC 12 UBSan false report on t_alloc_counter (a null-pointer store at reactor
// exit) went away when the variable became `constinit` (engine/base/alloc_counter.h).
constexpr std::array<KnownReport, 0> kKnownReports{};

struct LogVerdict {
  std::vector<std::string> problems;
  std::set<std::string> known;  // names of the known reports seen
};

// Log lines are text: a raw control byte or a non-ASCII byte means a client's bytes reached
// the log unescaped. And a sanitizer report means a bug, whatever the statuses said.
LogVerdict check_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LogVerdict v;
  for (size_t i = 0; i < log.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(log[i]);
    if ((c < 0x20 && c != '\n') || c >= 0x7f) {
      size_t start = log.rfind('\n', i);
      start = start == std::string::npos ? 0 : start + 1;
      v.problems.push_back("raw byte in the log: \"" +
                           escape_bytes(log.substr(start, log.find('\n', i) - start)) + "\"");
      break;
    }
  }
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("AddressSanitizer") != std::string::npos ||
        line.find("LeakSanitizer") != std::string::npos) {
      v.problems.push_back("sanitizer report in the log: " + escape_bytes(line));
    } else if (line.find("runtime error:") != std::string::npos) {
      const char* known = nullptr;
      for (const KnownReport& k : kKnownReports) {
        if (line.find(k.file) != std::string::npos && line.find(k.message) != std::string::npos) {
          known = k.name;
        }
      }
      if (known) {
        v.known.insert(known);
      } else {
        v.problems.push_back("sanitizer report in the log: " + escape_bytes(line));
      }
    }
  }
  return v;
}

std::vector<std::string> split_flags(const std::string& flags) {
  std::vector<std::string> out;
  std::istringstream in(flags);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

std::vector<Case> the_cases() {
  std::vector<std::string> errors;
  std::vector<Case> cases = load_cases(HOSTILE_CASES_PATH, &errors);
  for (const std::string& e : errors) ADD_FAILURE() << e;
  return cases;
}

TEST(HostileMatrix, TableIsWellFormed) {
  std::vector<std::string> errors;
  std::vector<Case> cases = load_cases(HOSTILE_CASES_PATH, &errors);
  for (const std::string& e : errors) ADD_FAILURE() << e;
  EXPECT_GE(cases.size(), 60u);
}

TEST(HostileMatrix, TextFormExpands) {
  Placeholders p{"i", "I", "d", "m", "n"};
  std::vector<Segment> s;
  EXPECT_EQ(expand("a\\r\\n\\t\\x00\\x7f\\\\\\{{ID}{DONE}{MISSING}{NEW}{ID_UPPER}{ab*3}", p, &s),
            "");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].bytes, std::string("a\r\n\t\0\x7f\\{idmnIababab", 19));
  s.clear();
  EXPECT_EQ(expand("x{PAUSE=10}y{\\r\\n*2}{{b*2}c*2}", p, &s), "");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].bytes, "x");
  EXPECT_EQ(s[0].pause_ms_after, 10);
  EXPECT_EQ(s[1].bytes, "y\r\n\r\nbbcbbc");
  for (const char* bad : {"\\q", "{NOPE}", "{a*}", "{a*x}", "{unclosed", "\\x4", "end\\"}) {
    s.clear();
    EXPECT_NE(expand(bad, p, &s), "") << bad;
  }
}

TEST(HostileMatrix, EveryCaseGetsItsStatusAndChangesNothing) {
  std::vector<Case> cases = the_cases();
  ASSERT_FALSE(cases.empty());
  // Cases with the same flags and files share a server.
  std::map<std::string, std::vector<const Case*>> groups;
  for (const Case& c : cases) {
    std::string key = c.flags;
    for (const auto& [name, content] : c.files) key += "\n" + name + ":" + escape_bytes(content);
    key += "\n" + c.runner_headers;
    groups[key].push_back(&c);
  }

  int passed = 0;
  std::vector<std::string> xfails, failures, slow;
  std::set<std::string> known_reports;
  auto started = Clock::now();
  for (auto& [key, group] : groups) {
    const std::string& flags = group.front()->flags;
    TempDir dir;
    TempDir files;  // apart from `dir`, whose every file is accounted for
    for (const auto& [name, content] : group.front()->files) {
      std::ofstream(files.path() + "/" + name, std::ios::binary) << content;
    }
    std::vector<std::string> args = kDefaultFlags;
    for (std::string f : split_flags(flags)) {
      for (size_t at = f.find("{FILES}"); at != std::string::npos; at = f.find("{FILES}")) {
        f.replace(at, 7, files.path());
      }
      args.push_back(f);
    }
    Matrix m(dir.path(), args, group.front()->runner_headers);
    std::string error;
    ASSERT_TRUE(m.start(&error)) << error << " (flags '" << flags << "')";
    for (const std::string& p : m.check_invariants("before the matrix")) ADD_FAILURE() << p;

    for (size_t first = 0; first < group.size(); first += kBatchCases) {
      size_t last = std::min(group.size(), first + kBatchCases);
      std::vector<CaseResult> results(last - first);
      std::atomic<size_t> next{first};
      std::vector<std::thread> workers;
      for (int w = 0; w < kWorkers; ++w) {
        workers.emplace_back([&] {
          for (size_t i = next++; i < last; i = next++) {
            auto t0 = Clock::now();
            results[i - first] = m.run_case(*group[i]);
            results[i - first].elapsed_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
          }
        });
      }
      for (std::thread& t : workers) t.join();
      for (size_t i = first; i < last; ++i) {
        const Case& c = *group[i];
        const CaseResult& r = results[i - first];
        if (r.elapsed_ms > 2000) {
          slow.push_back(c.name + " (" + std::to_string(r.elapsed_ms) + " ms)");
        }
        if (r.passed && c.xfail.empty()) {
          ++passed;
        } else if (r.passed) {
          failures.push_back("XPASS (remove its xfail mark): " + r.report);
        } else if (!c.xfail.empty()) {
          xfails.push_back("XFAIL [" + c.xfail + "] " + r.report);
        } else {
          failures.push_back(r.report);
        }
      }
      std::string where = "after cases " + std::to_string(first + 1) + "-" + std::to_string(last) +
                          (flags.empty() ? "" : " (flags '" + flags + "')");
      for (const std::string& p : m.check_invariants(where)) ADD_FAILURE() << p;
      if (!m.server().running()) break;
    }

    // A clean drain (and, under the sanitizers, no report at exit).
    int status = m.server().stop();
    LogVerdict log = check_log(m.server().stderr_path());
    for (const std::string& p : log.problems) ADD_FAILURE() << p;
    bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // A known false report ends the process with exit code 1; nothing else may.
    bool known_exit =
        WIFEXITED(status) && WEXITSTATUS(status) == 1 && !log.known.empty() && log.problems.empty();
    EXPECT_TRUE(clean_exit || known_exit)
        << "ringestd did not exit cleanly on SIGTERM after the matrix: status " << status;
    for (const std::string& name : log.known) {
      known_reports.insert(name);
    }
    // Restarted on the same directory, it recovers what it had and sets nothing aside.
    Server again(m.data_dir(), args);
    again.start();
    EXPECT_TRUE(fs::is_empty(m.data_dir() + "/quarantine")) << "recovery set records aside";
    RunnerClient client = m.client();
    client.port = again.port();
    EXPECT_EQ(client.offset("/files/" + m.places().id), kIdContent.size())
        << "{ID} after a restart";
    auto done = client.get("/files/" + m.places().done);
    EXPECT_TRUE(done && done->status == 200 && done->body == kDoneContent)
        << "{DONE} after a restart";
    again.stop();
    for (const std::string& p : check_log(m.server().stderr_path()).problems) ADD_FAILURE() << p;
  }

  std::cout << "[ hostile  ] " << cases.size() << " cases: " << passed << " passed, "
            << xfails.size() << " known failures (xfail), " << failures.size() << " failed, in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms\n";
  for (const std::string& x : xfails) std::cout << x << "\n";
  for (const std::string& x : slow) std::cout << "slow case: " << x << "\n";
  for (const std::string& name : known_reports) {
    std::cout << "KNOWN sanitizer report tolerated [" << name << "] (see kKnownReports)\n";
  }
  for (const std::string& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace ringest::test
