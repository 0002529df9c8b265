#include "tools/crowd/response.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace ringest::crowd {
namespace {

constexpr size_t kMaxHeadBytes = 16 * 1024;  // far more than any answer to the crowd

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Framing frame_response(std::string_view bytes, Response* out, size_t* consumed) {
  size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    return bytes.size() > kMaxHeadBytes ? Framing::kMalformed : Framing::kNeedMore;
  }
  std::string_view head = bytes.substr(0, head_end + 2);  // every line ends with \r\n
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.compare(0, 7, "HTTP/1.") != 0 ||
      status_line[8] != ' ') {
    return Framing::kMalformed;
  }
  int status = 0;
  auto [end, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || end != status_line.data() + 12 || status < 100) {
    return Framing::kMalformed;
  }
  Response r;
  r.status = status;
  r.close = status_line[7] == '0';
  uint64_t content_length = 0;
  for (size_t pos = eol + 2; pos < head.size();) {
    size_t next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      auto [e, c] = std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (c != std::errc() || e != value.data() + value.size()) return Framing::kMalformed;
    } else if (iequals(name, "Location")) {
      r.location = std::string(value);
    } else if (iequals(name, "Connection")) {
      if (iequals(value, "close")) r.close = true;
      if (iequals(value, "keep-alive")) r.close = false;
    }
  }
  size_t total = head_end + 4;
  if (status >= 200 && status != 204 && status != 304) {
    if (content_length > kMaxHeadBytes * 64) return Framing::kMalformed;
    if (bytes.size() - total < content_length) return Framing::kNeedMore;
    total += static_cast<size_t>(content_length);
  }
  *out = std::move(r);
  *consumed = total;
  return Framing::kComplete;
}

}  // namespace ringest::crowd
