#include "http/ietf/ietf_headers.h"

#include <llhttp.h>

#include <cstdio>
#include <cstring>

namespace ringest::ietf {
namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

std::optional<bool> parse_sf_boolean(std::string_view value) {
  value = trim(value);
  if (value == "?1") return true;
  if (value == "?0") return false;
  return std::nullopt;
}

std::optional<uint64_t> parse_sf_offset(std::string_view value) {
  value = trim(value);
  if (value.empty() || value.size() > 15) return std::nullopt;  // RFC 9651 3.3.1
  uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

SingleField single_field(const http::RequestHead& head, std::string_view name) {
  SingleField field;
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (!http::equals_ignore_case(head.headers[i].name, name)) continue;
    if (field.present) {
      field.duplicated = true;
      return field;
    }
    field.present = true;
    field.value = head.headers[i].value;
  }
  return field;
}

int64_t interop_version(const http::RequestHead& head) {
  SingleField field = single_field(head, "Upload-Draft-Interop-Version");
  if (!field.present || field.duplicated) return -1;
  std::optional<uint64_t> version = parse_sf_offset(field.value);
  return version ? static_cast<int64_t>(*version) : -1;
}

bool is_ietf_request(const http::RequestHead& head) {
  if (head.method == HTTP_GET) return false;
  if (head.has("Upload-Draft-Interop-Version")) return true;
  return head.has("Upload-Complete") && !head.has("Tus-Resumable");
}

bool is_partial_upload(std::string_view content_type) {
  size_t semicolon = content_type.find(';');
  std::string_view type = trim(content_type.substr(0, semicolon));
  return http::equals_ignore_case(type, kPartialUpload);
}

std::string_view disposition_filename(std::string_view disposition) {
  size_t semicolon = disposition.find(';');
  while (semicolon != std::string_view::npos) {
    std::string_view rest = disposition.substr(semicolon + 1);
    size_t next = rest.find(';');
    std::string_view param = trim(rest.substr(0, next));
    size_t equals = param.find('=');
    if (equals != std::string_view::npos &&
        http::equals_ignore_case(trim(param.substr(0, equals)), "filename")) {
      std::string_view value = trim(param.substr(equals + 1));
      if (value.size() >= 2 && value.front() == '"') {
        // A quoted-string may hold ';': take it up to its closing quote in the whole value.
        std::string_view from = disposition.substr(semicolon + 1);
        size_t open = from.find('"');
        size_t close = from.find('"', open + 1);
        if (close == std::string_view::npos) return {};
        std::string_view quoted = from.substr(open + 1, close - open - 1);
        return quoted.find('\\') == std::string_view::npos ? quoted : std::string_view();
      }
      return value.find('"') == std::string_view::npos ? value : std::string_view();
    }
    semicolon = next == std::string_view::npos ? next : semicolon + 1 + next;
  }
  return {};
}

size_t format_upload_limit(uint64_t max_size, uint64_t max_append_bytes, char* out) {
  int n = max_append_bytes > 0
              ? std::snprintf(out, kLimitChars, "max-size=%llu, max-append-size=%llu",
                              static_cast<unsigned long long>(max_size),
                              static_cast<unsigned long long>(max_append_bytes))
              : std::snprintf(out, kLimitChars, "max-size=%llu",
                              static_cast<unsigned long long>(max_size));
  return n > 0 && static_cast<size_t>(n) < kLimitChars ? static_cast<size_t>(n) : 0;
}

std::string_view problem_type_uri(Problem problem) {
  switch (problem) {
    case Problem::kMismatchingOffset:
      return "https://iana.org/assignments/http-problem-types#mismatching-upload-offset";
    case Problem::kCompletedUpload:
      return "https://iana.org/assignments/http-problem-types#completed-upload";
    case Problem::kInconsistentLength:
      return "https://iana.org/assignments/http-problem-types#inconsistent-upload-length";
  }
  return {};
}

size_t format_problem(Problem problem, std::string_view title, uint64_t expected_offset,
                      uint64_t provided_offset, char* out, size_t capacity) {
  // (Titles are the handler's own constants: nothing to escape.)
  std::string_view type = problem_type_uri(problem);
  int n = problem == Problem::kMismatchingOffset
              ? std::snprintf(out, capacity,
                              "{\"type\":\"%.*s\",\"title\":\"%.*s\",\"expected-offset\":%llu,"
                              "\"provided-offset\":%llu}\n",
                              static_cast<int>(type.size()), type.data(),
                              static_cast<int>(title.size()), title.data(),
                              static_cast<unsigned long long>(expected_offset),
                              static_cast<unsigned long long>(provided_offset))
              : std::snprintf(out, capacity, "{\"type\":\"%.*s\",\"title\":\"%.*s\"}\n",
                              static_cast<int>(type.size()), type.data(),
                              static_cast<int>(title.size()), title.data());
  return n > 0 && static_cast<size_t>(n) < capacity ? static_cast<size_t>(n) : 0;
}

}  // namespace ringest::ietf
