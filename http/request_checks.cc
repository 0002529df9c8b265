#include "http/request_checks.h"

#include <llhttp.h>

namespace ringest::http {
namespace {

constexpr std::string_view kRootPath = "/";

// Singleton fields ringestd acts on. A second copy is ambiguous (which one did a proxy in
// front of us act on?), so the request is refused rather than one copy silently picked.
// Authorization is one of them: with two, a good token followed by a bad one must not pass
// because one copy was read and the other ignored (RFC 9110 11.6.2 allows one credential).
constexpr std::string_view kSingletons[] = {
    "Tus-Resumable",   "Upload-Length",       "Upload-Offset",
    "Upload-Metadata", "Upload-Defer-Length", "Upload-Checksum",
    "Upload-Concat",   "Content-Type",        "X-HTTP-Method-Override",
    "Authorization",
};

bool starts_with_ignore_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equals_ignore_case(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Host = uri-host [ ":" port ]: reg-name, IPv4 or IP-literal characters and the port's colon
// (RFC 3986 unreserved / pct-encoded / sub-delims, ':' '[' ']'). Empty is allowed (RFC 9112 3.2).
bool valid_host_value(std::string_view value) {
  constexpr std::string_view kPunctuation = "-._~%!$&'()*+,;=:[]";
  for (char c : value) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && kPunctuation.find(c) == std::string_view::npos) return false;
  }
  return true;
}

uint32_t count_fields(const RequestHead& head, std::string_view name) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (equals_ignore_case(head.headers[i].name, name)) ++n;
  }
  return n;
}

// Calls `element(text)` for every non-empty member of every field line named `name`
// (RFC 9110 5.6.1: empty list elements are ignored). Stops when it returns false.
template <typename Fn>
bool for_each_element(const RequestHead& head, std::string_view name, Fn element) {
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (!equals_ignore_case(head.headers[i].name, name)) continue;
    std::string_view rest = head.headers[i].value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      if (!item.empty() && !element(item)) return false;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return true;
}

RequestVerdict check_transfer_encoding(const RequestHead& head) {
  if (!head.has("Transfer-Encoding")) return {};
  if (head.version_minor == 0) {
    return {400, "Transfer-Encoding in an HTTP/1.0 request", true};
  }
  uint32_t codings = 0;
  uint32_t chunked = 0;
  bool last_is_chunked = false;
  for_each_element(head, "Transfer-Encoding", [&](std::string_view coding) {
    ++codings;
    // "chunked" takes no parameters: "chunked;x=1" is some other coding.
    last_is_chunked = equals_ignore_case(coding, "chunked");
    if (last_is_chunked) ++chunked;
    return true;
  });
  // The body's length is only known when chunked is the final coding (and llhttp agrees).
  if (!last_is_chunked || chunked > 1 || !head.chunked) {
    return {400, "the final transfer coding must be chunked, applied once", true};
  }
  if (codings > chunked) return {501, "only the chunked transfer coding is supported", true};
  return {};
}

}  // namespace

std::string_view request_path(std::string_view target) {
  if (target == "*") return target;
  if (!target.empty() && target.front() == '/') return target.substr(0, target.find('?'));
  std::string_view rest;
  if (starts_with_ignore_case(target, "http://")) {
    rest = target.substr(7);
  } else if (starts_with_ignore_case(target, "https://")) {
    rest = target.substr(8);
  } else {
    return {};
  }
  size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  // userinfo ("user@host") is deprecated in http URIs and a phishing device (RFC 9110 4.2.4).
  if (authority.empty() || authority.find('@') != std::string_view::npos) return {};
  if (authority_end == std::string_view::npos || rest[authority_end] == '?') return kRootPath;
  std::string_view path = rest.substr(authority_end);
  return path.substr(0, path.find('?'));
}

RequestVerdict check_request(const RequestHead& head) {
  if (head.version_major != 1) return {505, "only HTTP/1.x is served", true};
  if (head.method == HTTP_CONNECT) return {501, "CONNECT is not supported", true};

  std::string_view path = request_path(head.target);
  if (path.empty()) return {400, "unsupported request target"};
  if (head.target.find('#') != std::string_view::npos) {
    return {400, "a request target has no fragment"};
  }
  if (path == "*" && head.method != HTTP_OPTIONS) return {400, "'*' is for OPTIONS only"};

  uint32_t hosts = count_fields(head, "Host");
  if (hosts > 1) return {400, "more than one Host"};
  if (hosts == 0 && head.version_minor >= 1) return {400, "Host required"};
  if (hosts == 1 && !valid_host_value(head.get("Host"))) return {400, "invalid Host"};

  RequestVerdict framing = check_transfer_encoding(head);
  if (!framing.ok()) return framing;

  bool expectation_ok = for_each_element(head, "Expect", [](std::string_view member) {
    return equals_ignore_case(member, "100-continue");
  });
  if (!expectation_ok) return {417, "only Expect: 100-continue is supported"};

  if (head.method != HTTP_OPTIONS) {
    for (std::string_view name : kSingletons) {
      if (count_fields(head, name) > 1) return {400, "a header that must be single is repeated"};
    }
  }
  return {};
}

}  // namespace ringest::http
