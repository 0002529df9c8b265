#include "engine/hooks/event_json.h"

#include <time.h>

#include <cctype>

#include <nlohmann/json.hpp>
#include <vector>

#include "engine/base/base64.h"

namespace ringest::hooks {

const char* event_name(UploadEventKind kind) {
  switch (kind) {
    case UploadEventKind::kCreated: return "created";
    case UploadEventKind::kFinished: return "finished";
    case UploadEventKind::kTerminated: return "terminated";
    case UploadEventKind::kExpired: return "expired";
  }
  return "?";
}

std::string event_id(std::string_view upload_id, UploadEventKind kind) {
  std::string id(upload_id);
  id += '-';
  id += event_name(kind);
  return id;
}

std::string rfc3339_ms(uint64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[96];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900,
           utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
           static_cast<unsigned>(unix_ms % 1000));
  return buf;
}

namespace {

nlohmann::json metadata_json(const storage::RecordHeaderView& header) {
  nlohmann::json out = nlohmann::json::object();
  std::vector<uint8_t> scratch(storage::metadata_scratch_bytes(header.metadata.size()) + 1);
  storage::MetadataReader reader(header.version, header.metadata, scratch);
  std::string_view key;
  std::string_view value;
  while (reader.next(&key, &value) == storage::MetadataReader::Result::kPair) {
    out[std::string(key)] = std::string(value);
  }
  return out;
}

}  // namespace

std::string event_json(UploadEventKind kind, const storage::DecodedRecord& record,
                       uint64_t event_unix_ms) {
  const storage::RecordHeaderView& h = record.header;
  const storage::CommitSlot& s = record.state;
  nlohmann::json upload;
  upload["id"] = std::string(h.id);
  upload["path"] = "/files/" + std::string(h.id);
  upload["protocol"] = storage::protocol_name(h.protocol);
  if (s.upload_length == storage::kUnknownLength) {
    upload["length"] = nullptr;
  } else {
    upload["length"] = s.upload_length;
  }
  // A creation's event reports the upload as created (nothing received yet, a final complete).
  upload["offset"] = kind == UploadEventKind::kCreated && !h.final ? 0 : s.committed_offset;
  upload["metadata"] = metadata_json(h);
  upload["partial"] = h.partial;
  upload["final"] = h.final;
  upload["created"] = rfc3339_ms(h.created_unix_ms);
  upload["updated"] = rfc3339_ms(s.updated_unix_ms);
  if (kind != UploadEventKind::kCreated && (s.flags & storage::kFlagComplete) &&
      (s.flags & storage::kFlagContentCrc)) {
    uint8_t be[4] = {static_cast<uint8_t>(s.content_crc32c >> 24),
                     static_cast<uint8_t>(s.content_crc32c >> 16),
                     static_cast<uint8_t>(s.content_crc32c >> 8),
                     static_cast<uint8_t>(s.content_crc32c)};
    char b64[base64_encoded_chars(4)];
    size_t n = base64_encode(be, 4, b64);
    upload["digest"] = {{"crc32c", std::string(b64, n)}};
  }
  nlohmann::json event;
  event["id"] = event_id(h.id, kind);
  event["type"] = event_name(kind);
  event["time"] = rfc3339_ms(event_unix_ms);
  event["upload"] = std::move(upload);
  return event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string pre_create_json(const PreCreateFacts& facts) {
  nlohmann::json upload;
  upload["protocol"] = storage::protocol_name(static_cast<storage::Protocol>(facts.protocol));
  if (facts.length == storage::kUnknownLength) {
    upload["length"] = nullptr;
  } else {
    upload["length"] = facts.length;
  }
  nlohmann::json metadata = nlohmann::json::object();
  storage::MetadataReader reader(storage::kHeaderVersionV2, facts.metadata_block);
  std::string_view key;
  std::string_view value;
  while (reader.next(&key, &value) == storage::MetadataReader::Result::kPair) {
    metadata[std::string(key)] = std::string(value);
  }
  upload["metadata"] = std::move(metadata);
  upload["partial"] = facts.partial;
  upload["final"] = facts.final;
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, field] : facts.headers) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (headers.contains(lower)) {
      headers[lower] = headers[lower].get<std::string>() + ", " + std::string(field);
    } else {
      headers[lower] = std::string(field);
    }
  }
  nlohmann::json request;
  request["method"] = std::string(facts.method);
  request["uri"] = std::string(facts.uri);
  request["remote_addr"] = std::string(facts.remote_addr);
  request["headers"] = std::move(headers);
  nlohmann::json out;
  out["type"] = "pre-create";
  out["upload"] = std::move(upload);
  out["request"] = std::move(request);
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ringest::hooks
