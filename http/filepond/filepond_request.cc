#include "http/filepond/filepond_request.h"

#include <cstring>

#include <nlohmann/json.hpp>

namespace ringest::filepond {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 2046 bchars (space allowed except last).
bool boundary_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '\'': case '(': case ')': case '+': case '_': case ',': case '-': case '.': case '/':
    case ':': case '=': case '?': case ' ':
      return true;
    default:
      return false;
  }
}

// Walks `; name=value` parameters (RFC 9110 5.6.6; a value is a token or a quoted string).
class Parameters {
 public:
  explicit Parameters(std::string_view rest) : rest_(rest) {}
  // False at the end; *ok false when the list is malformed. A quoted value keeps its escapes'
  // characters only in their escaped form: callers here only need to know it is there.
  bool next(std::string_view* name, std::string_view* value, bool* ok) {
    rest_ = trim(rest_);
    *ok = true;
    if (rest_.empty()) return false;
    if (rest_.front() != ';') return (*ok = false);
    rest_ = trim(rest_.substr(1));
    if (rest_.empty()) return false;  // a trailing ';' is tolerated
    size_t eq = rest_.find('=');
    if (eq == std::string_view::npos || eq == 0) return (*ok = false);
    *name = trim(rest_.substr(0, eq));
    rest_ = trim(rest_.substr(eq + 1));
    if (!rest_.empty() && rest_.front() == '"') {
      size_t i = 1;
      while (i < rest_.size() && rest_[i] != '"') i += rest_[i] == '\\' ? 2 : 1;
      if (i >= rest_.size()) return (*ok = false);
      *value = rest_.substr(1, i - 1);
      rest_.remove_prefix(i + 1);
      return true;
    }
    size_t end = rest_.find(';');
    *value = trim(rest_.substr(0, end));
    rest_ = end == std::string_view::npos ? std::string_view() : rest_.substr(end);
    return !value->empty() || (*ok = false);
  }

 private:
  std::string_view rest_;
};

bool boundary_of(std::string_view content_type, std::string_view* boundary) {
  size_t semicolon = content_type.find(';');
  Parameters params(semicolon == std::string_view::npos ? std::string_view()
                                                         : content_type.substr(semicolon));
  std::string_view name, value;
  bool ok = true;
  bool found = false;
  while (params.next(&name, &value, &ok)) {
    if (!equals_ignore_case(name, "boundary")) continue;
    if (found) return false;  // twice
    found = true;
    *boundary = value;
  }
  if (!ok || !found || boundary->empty() || boundary->size() > kMaxBoundaryBytes) return false;
  for (char c : *boundary) {
    if (!boundary_char(c)) return false;
  }
  return boundary->back() != ' ';
}

// A part's header lines, up to the empty line: one Content-Disposition: form-data with a name.
FormError read_part_headers(std::string_view* body) {
  constexpr int kMaxPartHeaders = 8;
  bool disposition = false;
  for (int lines = 0;; ++lines) {
    size_t eol = body->find("\r\n");
    if (eol == std::string_view::npos || lines > kMaxPartHeaders) return FormError::kMalformed;
    std::string_view line = body->substr(0, eol);
    body->remove_prefix(eol + 2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return FormError::kMalformed;
    if (!equals_ignore_case(line.substr(0, colon), "Content-Disposition")) continue;
    if (disposition) return FormError::kMalformed;
    disposition = true;
    std::string_view value = trim(line.substr(colon + 1));
    size_t semicolon = value.find(';');
    if (!equals_ignore_case(trim(value.substr(0, semicolon)), "form-data")) {
      return FormError::kMalformed;
    }
    if (semicolon == std::string_view::npos) return FormError::kMalformed;  // no name
    Parameters params(value.substr(semicolon));
    std::string_view name, param;
    bool ok = true, named = false, file = false;
    while (params.next(&name, &param, &ok)) {
      if (equals_ignore_case(name, "name")) named = true;
      if (equals_ignore_case(name, "filename") || equals_ignore_case(name, "filename*")) {
        file = true;
      }
    }
    if (!ok || !named) return FormError::kMalformed;
    if (file) return FormError::kFilePart;
  }
  return disposition ? FormError::kOk : FormError::kMalformed;
}

}  // namespace

Query parse_query(std::string_view target) {
  Query query;
  size_t question = target.find('?');
  if (question == std::string_view::npos) return query;
  std::string_view text = target.substr(question + 1);
  if (text.empty()) return query;
  query.kind = QueryKind::kInvalid;
  if (text.find('&') != std::string_view::npos) return query;  // one parameter, never two
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) return query;
  std::string_view name = text.substr(0, eq);
  query.value = text.substr(eq + 1);
  if (name == "patch") {
    query.kind = QueryKind::kPatch;
  } else if (name == "restore") {
    query.kind = QueryKind::kRestore;
  } else if (name == "load") {
    query.kind = QueryKind::kLoad;
  } else if (name == "fetch") {
    query.kind = QueryKind::kFetch;
  }
  return query;
}

const char* form_error_message(FormError error) {
  switch (error) {
    case FormError::kOk: return "";
    case FormError::kNotMultipart: return "Content-Type must be multipart/form-data";
    case FormError::kBoundary: return "multipart/form-data needs one valid boundary parameter";
    case FormError::kMalformed: return "malformed multipart/form-data body";
    case FormError::kTooManyParts:
      return "the form holds one field, the metadata: the file comes in PATCH chunks";
    case FormError::kFilePart:
      return "a file in the form: this endpoint takes files in chunks (chunkUploads, chunkForce)";
  }
  return "malformed multipart/form-data body";
}

FormError parse_metadata_form(std::string_view content_type, std::string_view body,
                              std::string_view* value) {
  *value = {};
  if (!equals_ignore_case(trim(content_type.substr(0, content_type.find(';'))),
                          "multipart/form-data")) {
    return FormError::kNotMultipart;
  }
  std::string_view boundary;
  if (!boundary_of(content_type, &boundary)) return FormError::kBoundary;
  // "--" boundary at the start, or after a preamble ending in CRLF.
  char delimiter_bytes[2 + kMaxBoundaryBytes + 2];
  std::string_view delimiter(delimiter_bytes, 4 + boundary.size());
  std::memcpy(delimiter_bytes, "\r\n--", 4);
  std::memcpy(delimiter_bytes + 4, boundary.data(), boundary.size());
  std::string_view dash_boundary = delimiter.substr(2);
  if (body.substr(0, dash_boundary.size()) == dash_boundary) {
    body.remove_prefix(dash_boundary.size());
  } else {
    size_t found = body.find(delimiter);
    if (found == std::string_view::npos) return FormError::kMalformed;
    body.remove_prefix(found + delimiter.size());
  }
  for (int part = 0;; ++part) {
    if (body.substr(0, 2) == "--") return FormError::kOk;  // the close delimiter
    if (part == 1) return FormError::kTooManyParts;
    while (!body.empty() && is_ows(body.front())) body.remove_prefix(1);  // transport padding
    if (body.substr(0, 2) != "\r\n") return FormError::kMalformed;
    body.remove_prefix(2);
    FormError headers = read_part_headers(&body);
    if (headers != FormError::kOk) return headers;
    size_t end = body.find(delimiter);
    if (end == std::string_view::npos) return FormError::kMalformed;
    *value = body.substr(0, end);
    body.remove_prefix(end + delimiter.size());
  }
}

namespace {

bool keepable_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeptKeyBytes) return false;
  for (char c : key) {
    if (c <= 0x20 || c >= 0x7f || c == ',') return false;
  }
  return true;
}

// Keeps the top-level string members; builds no tree.
class TopLevelStrings final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit TopLevelStrings(std::vector<MetadataPair>* pairs) : pairs_(pairs) {}
  bool object = false;
  bool too_large = false;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool string(string_t& text) override {
    if (depth_ == 1 && has_key_) keep(text);
    return value();
  }
  bool start_object(std::size_t) override {
    if (depth_ == 0) object = true;
    has_key_ = false;
    ++depth_;
    return true;
  }
  bool key(string_t& text) override {
    has_key_ = depth_ == 1;
    if (has_key_) key_ = text;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    has_key_ = false;
    ++depth_;
    return depth_ > 1;  // a top-level array is not the metadata object: stop
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool value() {
    has_key_ = false;
    return depth_ > 0;  // a top-level scalar is not an object: stop
  }
  void keep(const std::string& text) {
    if (!keepable_key(key_)) return;
    for (const MetadataPair& pair : *pairs_) {
      if (pair.key == key_) return;  // the first of a repeated key wins
    }
    kept_bytes_ += 6 + key_.size() + text.size();  // as a stored pair: u16 + key + u32 + value
    if (kept_bytes_ > kMaxKeptMetadataBytes) {
      too_large = true;
      return;
    }
    pairs_->push_back({key_, text});
  }

  std::vector<MetadataPair>* pairs_;
  int depth_ = 0;
  bool has_key_ = false;
  std::string key_;
  size_t kept_bytes_ = 4;  // the pair count
};

}  // namespace

MetadataError metadata_pairs(std::string_view json, std::vector<MetadataPair>* pairs) {
  pairs->clear();
  if (trim(json).empty()) return MetadataError::kOk;
  TopLevelStrings sax(pairs);
  bool parsed = false;
  try {
    parsed = nlohmann::json::sax_parse(json.begin(), json.end(), &sax);
  } catch (const std::exception&) {
    parsed = false;
  }
  if (!parsed || !sax.object) {
    pairs->clear();
    return MetadataError::kNotJsonObject;
  }
  if (sax.too_large) {
    pairs->clear();
    return MetadataError::kTooLarge;
  }
  return MetadataError::kOk;
}

bool valid_upload_name(std::string_view value) {
  if (value.empty() || value.size() > kMaxUploadNameBytes) return false;
  for (char c : value) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) return false;
  }
  return true;
}

}  // namespace ringest::filepond
