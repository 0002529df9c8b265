#include "tests/support/upload_driver.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace ringest::test {
namespace {

// A strict decimal: digits only, no sign, no spaces, no overflow. std::stoull would accept
// " +12" and throw on garbage; a driver must classify a malformed header, not crash on it.
std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<uint64_t> header_number(const Response& response, const std::string& name) {
  return parse_decimal(response.header(name));
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    auto byte = [&](size_t at) -> uint32_t {
      return at < bytes.size() ? static_cast<unsigned char>(bytes[at]) : 0;
    };
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kBase64[n & 63] : '=';
  }
  return out;
}

// Padded standard base64 (what tus metadata uses); std::nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::array<int, 256> value;
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(kBase64[i])] = i;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    int padding = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      bool last_quad = i + 4 == text.size();
      if (c == '=' && last_quad && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        ++padding;
        n <<= 6;
        continue;
      }
      int v = value[static_cast<unsigned char>(c)];
      if (v < 0 || padding > 0) return std::nullopt;
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out += static_cast<char>((n >> 16) & 0xFF);
    if (padding < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(n & 0xFF);
  }
  return out;
}

// The decoded value of `key` in an Upload-Metadata header ("k1 b64,k2 b64,k3"), std::nullopt
// when the key is absent or its value is not base64.
std::optional<std::string> metadata_value(std::string_view header, std::string_view key) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view pair = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t space = pair.find(' ');
    if (pair.substr(0, space) != key) continue;
    if (space == std::string_view::npos) return std::string();
    return base64_decode(pair.substr(space + 1));
  }
  return std::nullopt;
}

}  // namespace

const char* kind_name(AppendOutcome::Kind kind) {
  switch (kind) {
    case AppendOutcome::Kind::kNoResponse:
      return "no response";
    case AppendOutcome::Kind::kAccepted:
      return "accepted";
    case AppendOutcome::Kind::kConflict:
      return "conflict";
    case AppendOutcome::Kind::kRefused:
      return "refused";
    case AppendOutcome::Kind::kOther:
      return "other";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const AppendOutcome& outcome) {
  os << kind_name(outcome.kind);
  if (outcome.status != 0) os << " (" << outcome.status << ")";
  if (outcome.offset) os << " at offset " << *outcome.offset;
  return os;
}

// ---------------------------------------------------------------------------------------------
// What every driver shares

std::string UploadDriver::data_file(const std::string& data_dir, const UploadHandle& upload) const {
  return data_dir + "/uploads/" + upload_id(upload) + ".bin";
}

std::string UploadDriver::record_file(const std::string& data_dir,
                                      const UploadHandle& upload) const {
  return data_dir + "/uploads/" + upload_id(upload) + ".rec";
}

UploadHandle UploadDriver::create(uint16_t port, uint64_t length,
                                  std::string_view file_name) const {
  return created(request(port, create_request(length, file_name)), length);
}

AppendOutcome UploadDriver::append(uint16_t port, const UploadHandle& upload, uint64_t offset,
                                   std::string_view data) const {
  Connection c(port);
  // An early answer (conflict, refusal) may come while the body is still being sent: read it.
  if (c.send_all(append_head(upload, offset, data.size()))) c.send_all(data);
  return interpret_append(c.read_response());
}

std::optional<uint64_t> UploadDriver::offset(uint16_t port, const UploadHandle& upload) const {
  std::optional<UploadState> s = state(port, upload);
  if (!s) return std::nullopt;
  return s->offset;
}

std::optional<std::string> UploadDriver::download(uint16_t port, const UploadHandle& upload) const {
  std::optional<Response> r = request(port, download_request(upload));
  if (!r || r->status != 200) return std::nullopt;
  return r->body;
}

uint64_t UploadDriver::offset_after_cut(uint64_t start, uint64_t arrived) const {
  return traits().keeps_partial_appends ? start + arrived : start;
}

// ---------------------------------------------------------------------------------------------
// tus 1.0.0

std::string TusDriver::create_request(uint64_t length, std::string_view file_name) const {
  std::string metadata;
  if (!file_name.empty()) metadata = "filename " + base64_encode(file_name);
  return tus_create_request(length, metadata);
}

UploadHandle TusDriver::created(const std::optional<Response>& response, uint64_t length) const {
  if (!response || response->status != 201 || response->header("location").empty()) return {};
  return UploadHandle{response->header("location"), length};
}

std::string TusDriver::append_head(const UploadHandle& upload, uint64_t offset,
                                   uint64_t length) const {
  return patch_head(upload.url, offset, length);
}

AppendOutcome TusDriver::interpret_append(const std::optional<Response>& response) const {
  AppendOutcome out;
  if (!response) return out;
  out.status = response->status;
  out.offset = header_number(*response, "upload-offset");
  if (response->status == 204 && out.offset) {
    out.kind = AppendOutcome::Kind::kAccepted;
  } else if (response->status == 409 && out.offset) {
    out.kind = AppendOutcome::Kind::kConflict;  // tus: 409 names the offset to resume from
  } else if (response->status >= 400 && response->status != 409) {
    out.kind = AppendOutcome::Kind::kRefused;
  } else {
    out.kind = AppendOutcome::Kind::kOther;  // a 204 or 409 without an offset, a 2xx, a 3xx...
  }
  return out;
}

std::optional<UploadState> TusDriver::state(uint16_t port, const UploadHandle& upload) const {
  std::optional<Response> r = tus_head(port, upload.url);
  if (!r || r->status != 200) return std::nullopt;
  std::optional<uint64_t> offset = header_number(*r, "upload-offset");
  if (!offset) return std::nullopt;
  UploadState s;
  s.offset = *offset;
  s.length = header_number(*r, "upload-length");
  s.file_name = metadata_value(r->header("upload-metadata"), "filename");
  return s;
}

std::string TusDriver::download_request(const UploadHandle& upload) const {
  return "GET " + upload.url + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

bool TusDriver::remove(uint16_t port, const UploadHandle& upload) const {
  std::optional<Response> r = request(
      port, "DELETE " + upload.url + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  return r && r->status == 204;
}

std::string TusDriver::upload_id(const UploadHandle& upload) const {
  return id_of(upload.url.substr(0, upload.url.find('?')));
}

// ---------------------------------------------------------------------------------------------
// IETF Resumable Uploads, interop version 8

std::string IetfDriver::create_request(uint64_t length, std::string_view file_name) const {
  std::string disposition;
  if (!file_name.empty()) {
    disposition =
        "Content-Disposition: attachment; filename=\"" + std::string(file_name) + "\"\r\n";
  }
  return "POST /files/ HTTP/1.1\r\nHost: t\r\nUpload-Complete: ?0\r\nUpload-Length: " +
         std::to_string(length) + "\r\n" + disposition + "Content-Length: 0\r\n\r\n";
}

UploadHandle IetfDriver::created(const std::optional<Response>& response, uint64_t length) const {
  if (!response || response->status != 201 || response->header("location").empty()) return {};
  return UploadHandle{response->header("location"), length};
}

std::string IetfDriver::append_head(const UploadHandle& upload, uint64_t offset,
                                    uint64_t length) const {
  bool completes = offset + length == upload.length;
  return "PATCH " + upload.url +
         " HTTP/1.1\r\nHost: t\r\nUpload-Draft-Interop-Version: 8\r\n"
         "Content-Type: application/partial-upload\r\nUpload-Offset: " +
         std::to_string(offset) + "\r\nUpload-Complete: " + (completes ? "?1" : "?0") +
         "\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n";
}

AppendOutcome IetfDriver::interpret_append(const std::optional<Response>& response) const {
  AppendOutcome out;
  if (!response) return out;
  out.status = response->status;
  out.offset = header_number(*response, "upload-offset");
  bool complete_field = !response->header("upload-complete").empty();
  if (response->status == 204 && out.offset && complete_field) {
    out.kind = AppendOutcome::Kind::kAccepted;
  } else if (response->status == 409 && out.offset) {
    out.kind = AppendOutcome::Kind::kConflict;  // mismatching-upload-offset: the right offset
  } else if (response->status >= 400 && response->status != 409) {
    out.kind = AppendOutcome::Kind::kRefused;
  } else {
    out.kind = AppendOutcome::Kind::kOther;
  }
  return out;
}

std::optional<UploadState> IetfDriver::state(uint16_t port, const UploadHandle& upload) const {
  std::optional<Response> r = request(
      port,
      "HEAD " + upload.url + " HTTP/1.1\r\nHost: t\r\nUpload-Draft-Interop-Version: 8\r\n\r\n",
      true);
  if (!r || r->status != 200 || r->header("upload-complete").empty()) return std::nullopt;
  std::optional<uint64_t> offset = header_number(*r, "upload-offset");
  if (!offset) return std::nullopt;
  UploadState s;
  s.offset = *offset;
  s.length = header_number(*r, "upload-length");
  return s;
}

std::string IetfDriver::download_request(const UploadHandle& upload) const {
  return "GET " + upload.url + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

bool IetfDriver::remove(uint16_t port, const UploadHandle& upload) const {
  std::optional<Response> r = request(
      port, "DELETE " + upload.url +
                " HTTP/1.1\r\nHost: t\r\nUpload-Draft-Interop-Version: 8\r\n\r\n");
  return r && r->status == 204;
}

std::string IetfDriver::upload_id(const UploadHandle& upload) const {
  return id_of(upload.url.substr(0, upload.url.find('?')));
}

// ---------------------------------------------------------------------------------------------
// FilePond

namespace {
// A JSON string's contents for `text` (quotes, backslashes and control characters escaped).
std::string json_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}
constexpr std::string_view kPatchQuery = "/filepond?patch=";
}  // namespace

DriverTraits FilepondDriver::traits() const {
  DriverTraits t;
  t.keeps_partial_appends = false;  // a chunk counts whole or not at all
  t.state_has_file_name = false;    // HEAD ?patch= reports offsets only
  return t;
}

std::string FilepondDriver::create_request(uint64_t length, std::string_view file_name) const {
  std::string json = file_name.empty() ? "{}" : "{\"filename\":\"" + json_escape(file_name) + "\"}";
  std::string body = "--fp-boundary\r\nContent-Disposition: form-data; name=\"filepond\"\r\n\r\n" +
                     json + "\r\n--fp-boundary--\r\n";
  return "POST /filepond HTTP/1.1\r\nHost: t\r\nUpload-Length: " + std::to_string(length) +
         "\r\nContent-Type: multipart/form-data; boundary=fp-boundary\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

UploadHandle FilepondDriver::created(const std::optional<Response>& response,
                                     uint64_t length) const {
  if (!response || response->status != 200 || response->body.size() != 32) return {};
  return UploadHandle{std::string(kPatchQuery) + response->body, length};
}

std::string FilepondDriver::append_head(const UploadHandle& upload, uint64_t offset,
                                        uint64_t length) const {
  return "PATCH " + upload.url +
         " HTTP/1.1\r\nHost: t\r\nContent-Type: application/offset+octet-stream\r\n"
         "Upload-Offset: " + std::to_string(offset) + "\r\nUpload-Length: " +
         std::to_string(upload.length) + "\r\nUpload-Name: file.bin\r\nContent-Length: " +
         std::to_string(length) + "\r\n\r\n";
}

AppendOutcome FilepondDriver::interpret_append(const std::optional<Response>& response) const {
  AppendOutcome out;
  if (!response) return out;
  out.status = response->status;
  out.offset = header_number(*response, "upload-offset");
  if (response->status == 204 && out.offset) {
    out.kind = AppendOutcome::Kind::kAccepted;
  } else if (response->status == 409 && out.offset) {
    out.kind = AppendOutcome::Kind::kConflict;
  } else if (response->status >= 400 && response->status != 409) {
    out.kind = AppendOutcome::Kind::kRefused;
  } else {
    out.kind = AppendOutcome::Kind::kOther;
  }
  return out;
}

std::optional<UploadState> FilepondDriver::state(uint16_t port, const UploadHandle& upload) const {
  std::optional<Response> r =
      request(port, "HEAD " + upload.url + " HTTP/1.1\r\nHost: t\r\n\r\n", true);
  if (!r || r->status != 200) return std::nullopt;
  std::optional<uint64_t> offset = header_number(*r, "upload-offset");
  if (!offset) return std::nullopt;
  UploadState s;
  s.offset = *offset;
  s.length = header_number(*r, "upload-length");
  return s;
}

std::string FilepondDriver::download_request(const UploadHandle& upload) const {
  return "GET /filepond?load=" + upload_id(upload) + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

bool FilepondDriver::remove(uint16_t port, const UploadHandle& upload) const {
  std::string id = upload_id(upload);
  std::optional<Response> r =
      request(port, "DELETE /filepond HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                    "Content-Length: " + std::to_string(id.size()) + "\r\n\r\n" + id);
  return r && r->status == 204;
}

std::string FilepondDriver::upload_id(const UploadHandle& upload) const {
  return upload.url.substr(std::min(upload.url.size(), kPatchQuery.size()));
}

// ---------------------------------------------------------------------------------------------

::testing::AssertionResult answer_offset_is(const UploadDriver& driver,
                                            const AppendOutcome& outcome, uint64_t expected) {
  if (!driver.traits().offset_in_answers) {
    if (!outcome.offset) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << driver.name() << " answers carry no offset, yet this one says " << outcome;
  }
  if (outcome.offset == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected an answer at offset " << expected << ", got " << outcome;
}

std::string download_sha256(const UploadDriver& driver, uint16_t port, const UploadHandle& upload) {
  std::optional<std::string> body = driver.download(port, upload);
  return body ? sha256_hex(*body) : "<no download>";
}

const std::vector<const UploadDriver*>& upload_drivers() {
  static const TusDriver tus;
  static const IetfDriver ietf;
  static const FilepondDriver filepond;
  static const std::vector<const UploadDriver*> drivers = {&tus, &ietf, &filepond};
  return drivers;
}

void PrintTo(const UploadDriver* driver, std::ostream* os) { *os << driver->name(); }

}  // namespace ringest::test
