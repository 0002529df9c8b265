#include "http/access/credential_files.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringest::access {
namespace {

// Secrets files are small; a bigger one is a mistake (a wrong path, say), not a key.
constexpr size_t kMaxFileBytes = 4 << 20;

bool read_small_file(const std::string& path, std::string* out, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  out->clear();
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > kMaxFileBytes) {
      *error = path + " is larger than 4 MiB";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  return true;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

bool is_b64token(std::string_view token) {
  size_t i = 0;
  for (; i < token.size(); ++i) {
    char c = token[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < token.size(); ++i) {
    if (token[i] != '=') return false;
  }
  return true;
}

bool parse_token_file(std::string_view text, std::vector<std::string>* tokens, std::string* error) {
  tokens->clear();
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!is_b64token(line)) {
      *error = "line " + std::to_string(line_number) +
               ": not a bearer token (allowed: A-Z a-z 0-9 - . _ ~ + / and trailing =; "
               "comments go on their own line)";
      tokens->clear();
      return false;
    }
    tokens->emplace_back(line);
  }
  if (tokens->empty()) {
    *error = "no tokens (one per line; blank lines and # comments are skipped)";
    return false;
  }
  return true;
}

bool load_token_file(const std::string& path, std::vector<std::string>* tokens,
                     std::string* error) {
  std::string text;
  if (!read_small_file(path, &text, error)) return false;
  if (!parse_token_file(text, tokens, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

bool parse_signing_key(std::string_view text, std::string* key, std::string* error) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() < kMinSigningKeyBytes) {
    *error = "the key has " + std::to_string(text.size()) + " bytes; at least " +
             std::to_string(kMinSigningKeyBytes) + " are required (e.g. openssl rand -hex 32)";
    return false;
  }
  key->assign(text);
  return true;
}

bool load_signing_key(const std::string& path, std::string* key, std::string* error) {
  std::string text;
  if (!read_small_file(path, &text, error)) return false;
  bool ok = parse_signing_key(text, key, error);
  if (!ok) *error = path + ": " + *error;
  OPENSSL_cleanse(text.data(), text.size());
  return ok;
}

}  // namespace ringest::access
