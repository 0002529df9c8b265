// Proves that the tus checksum extensions keep their promise through crashes. Six clients upload
// again and again with PATCHes that carry Upload-Checksum (every algorithm ringestd offers; in
// the header, or in a trailer the chunked request announced), some with a wrong digest, some
// with bytes corrupted on the way (the digest of the original), some abandoned mid-body; on a
// third of the uploads plain PATCHes are mixed in. Meanwhile ringestd (with 64 KiB checkpoints,
// so a plain request commits in the middle) is SIGKILLed at random moments and restarted on the
// same data directory. After every kill, from what the dead server left (the record and data
// files recovery reads, and its synclog of every commit that became durable), the test checks:
//  - no acknowledged byte lost: every offset a client was told is <= the record's offset, and
//    the bytes below it are the client's, byte for byte; after the restart HEAD agrees;
//  - no unverified byte ever committed: every durable offset (each synclog line and the
//    record's) is 0, the end of a request whose bytes and digest were right, or a point inside
//    a plain request. A checksummed request that got 460, was abandoned or corrupted is never
//    the reason for an offset, so it never moved one past its start; on the uploads that only
//    ever got checksummed requests every durable offset is exactly 0 or a verified request's
//    end. (A verified request whose answer was lost to the kill may be committed: its bytes
//    matched their digest. The test counts those.)
//  - the record's whole-file CRC-32C is the CRC-32C of the recovered prefix, and a complete
//    upload's HEAD carries `Repr-Digest: crc32c=:<base64>:` of the whole file. Both are
//    computed here from the bitwise definition, nothing shared with the server's code.
//  - every answer is the one the extension defines: 204 at the request's end for a right
//    digest, 460 at its start for a wrong one, nothing else.
// Rounds: RINGEST_CAMPAIGN_ROUNDS (default 20), as for the other campaigns (campaign.sh).
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
using Clock = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

bool splice_mode() {
  const char* mode = std::getenv("RINGEST_TEST_IO_MODE");
  return mode != nullptr && std::string_view(mode) == "splice";
}

// A reflected CRC-32 from its bitwise definition: the table holds the bitwise loop's result for
// each byte value, so the byte-at-a-time update computes exactly the bitwise CRC (only faster,
// which the prefixes of a few MiB per round need under the sanitizers).
class ReferenceCrc {
 public:
  explicit constexpr ReferenceCrc(uint32_t reflected_polynomial) : table_() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ reflected_polynomial : c >> 1;
      table_[i] = c;
    }
  }
  uint32_t extend(uint32_t crc, std::string_view data) const {
    crc = ~crc;
    for (unsigned char b : data) crc = table_[(crc ^ b) & 0xFF] ^ (crc >> 8);
    return ~crc;
  }

 private:
  uint32_t table_[256];
};
constexpr ReferenceCrc kCrc32c(0x82F63B78u);  // Castagnoli
constexpr ReferenceCrc kCrc32(0xEDB88320u);   // IEEE 802.3 (zlib's)

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

constexpr const char* kAlgorithms[] = {"sha1", "sha256", "md5", "crc32", "crc32c"};

// The digest tus sends for `algorithm` (a CRC as its 4 bytes, big-endian).
std::string digest(std::string_view algorithm, std::string_view data) {
  if (algorithm == "crc32") return big_endian(kCrc32.extend(0, data));
  if (algorithm == "crc32c") return big_endian(kCrc32c.extend(0, data));
  const EVP_MD* md = algorithm == "sha1"     ? EVP_sha1()
                     : algorithm == "sha256" ? EVP_sha256()
                                             : EVP_md5();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string repr_digest(std::string_view data) {
  return "crc32c=:" + base64(big_endian(kCrc32c.extend(0, data))) + ":";
}

// ---------------------------------------------------------------------------------------------
// What the clients did, per upload.

enum class Body : uint8_t { kPlain, kHeaderChecksum, kTrailerChecksum };
enum class Twist : uint8_t {
  kNone,
  kWrongDigest,   // the right bytes, the digest of other bytes
  kCorruptBytes,  // one byte changed on the way, the digest of the original
  kAbandoned,     // the client closed the connection mid-body
};

const char* body_name(Body b) {
  return b == Body::kPlain ? "plain" : b == Body::kHeaderChecksum ? "header" : "trailer";
}
const char* twist_name(Twist t) {
  switch (t) {
    case Twist::kNone:
      return "";
    case Twist::kWrongDigest:
      return " wrong-digest";
    case Twist::kCorruptBytes:
      return " corrupt-bytes";
    case Twist::kAbandoned:
      return " abandoned";
  }
  return "?";
}

struct Request {
  uint64_t start = 0;
  uint64_t end = 0;
  Body body = Body::kPlain;
  Twist twist = Twist::kNone;
};

struct UploadLog {
  std::string url;
  uint64_t seed = 0;
  uint64_t size = 0;
  bool checksummed_only = false;  // no plain request, ever
  // Every request that got a connection, logged before its first byte was sent: whatever the
  // server committed, it committed for one of these.
  std::vector<Request> requests;
  uint64_t acknowledged = 0;  // the largest offset any answer reported
  bool done = false;          // checked complete after a kill: later rounds skip it
};

// Why a durable offset may be where it is.
enum class Why { kUnexplained, kZero, kVerifiedEnd, kPlainEnd, kInsidePlain };

Why explain(const UploadLog& u, uint64_t offset) {
  if (offset == 0) return Why::kZero;
  Why why = Why::kUnexplained;
  for (const Request& r : u.requests) {
    if (offset == r.end && r.twist == Twist::kNone) {
      return r.body == Body::kPlain ? Why::kPlainEnd : Why::kVerifiedEnd;
    }
    // tus keeps what a plain request delivered: checkpoints and disconnects commit inside it.
    if (r.body == Body::kPlain && r.start < offset && offset < r.end) why = Why::kInsidePlain;
  }
  return why;
}

std::string describe(const UploadLog& u) {
  std::ostringstream s;
  s << u.url << " (" << u.size << " bytes, " << (u.checksummed_only ? "checksummed only" : "mixed")
    << ") requests:";
  for (const Request& r : u.requests) {
    s << " [" << r.start << "," << r.end << ") " << body_name(r.body) << twist_name(r.twist) << ";";
  }
  return s.str();
}

class Ledger {
 public:
  void add(const std::string& id, UploadLog log) {
    std::lock_guard lock(mu_);
    uploads_[id] = std::move(log);
  }
  void sent(const std::string& id, const Request& r) {
    std::lock_guard lock(mu_);
    uploads_[id].requests.push_back(r);
  }
  void acknowledged(const std::string& id, uint64_t offset) {
    std::lock_guard lock(mu_);
    uint64_t& a = uploads_[id].acknowledged;
    if (offset > a) a = offset;
  }
  void mark_done(const std::string& id) {
    std::lock_guard lock(mu_);
    uploads_[id].done = true;
  }
  std::map<std::string, UploadLog> snapshot() {
    std::lock_guard lock(mu_);
    return uploads_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, UploadLog> uploads_;  // by upload id
};

struct Counters {
  std::atomic<int> answers_204{0}, answers_460{0}, answers_409{0}, no_answer{0};
  std::atomic<int> trailer_204{0}, abandoned{0}, plain_sent{0}, checksummed_sent{0};
  std::atomic<int> completed{0}, digests_verified{0}, digests_absent_spliced{0};
  std::atomic<int> odd{0}, violations{0}, unfinished{0};
};

// ---------------------------------------------------------------------------------------------
// The client side.

// The raw request for `bytes` at `offset`; `checksum` ("<algorithm> <base64>") in the header
// or the trailer, or none.
std::string patch_text(const std::string& url, uint64_t offset, std::string_view bytes, Body body,
                       const std::string& checksum) {
  std::string text = "PATCH " + url +
                     " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                     "Content-Type: application/offset+octet-stream\r\nUpload-Offset: " +
                     std::to_string(offset) + "\r\n";
  if (body != Body::kTrailerChecksum) {
    if (body == Body::kHeaderChecksum) text += "Upload-Checksum: " + checksum + "\r\n";
    text += "Content-Length: " + std::to_string(bytes.size()) + "\r\n\r\n";
    text += bytes;
    return text;
  }
  text += "Transfer-Encoding: chunked\r\nTrailer: Upload-Checksum\r\n\r\n";
  for (size_t at = 0; at < bytes.size(); at += 16 * kKiB) {
    std::string_view piece = bytes.substr(at, 16 * kKiB);
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    text += size_line;
    text += piece;
    text += "\r\n";
  }
  text += "0\r\nUpload-Checksum: " + checksum + "\r\n\r\n";
  return text;
}

struct Client {
  int index;
  uint16_t port;
  Ledger* ledger;
  Counters* counters;
  const std::atomic<bool>* stop;
  Clock::time_point deadline;
  std::mt19937_64 rng;

  void violation(const std::string& what) {
    ++counters->violations;
    ADD_FAILURE() << what;
  }
  void odd(const std::string& what) {
    ++counters->odd;
    ADD_FAILURE() << what;
  }

  std::string create(uint64_t size) {
    while (Clock::now() < deadline && !stop->load()) {
      try {
        auto r = request(port, tus_create_request(size));
        if (r && r->status == 201 && !r->header("location").empty()) return r->header("location");
        if (r) odd("creation answered " + std::to_string(r->status));
      } catch (const std::runtime_error&) {  // the server is down
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
  }

  void run() {
    for (int n = 0; !stop->load(); ++n) {
      UploadLog log;
      log.size = 2 * kMiB + rng() % (64 * kKiB);
      log.seed = 100000 + 1000 * static_cast<uint64_t>(index) + static_cast<uint64_t>(n);
      log.checksummed_only = n % 3 != 2;
      log.url = create(log.size);
      if (log.url.empty()) {
        if (!stop->load()) ++counters->unfinished;
        return;
      }
      const std::string id = id_of(log.url);
      ledger->add(id, log);
      const std::string data = random_bytes(log.size, log.seed);
      if (!upload(id, log, data)) {
        if (!stop->load()) ++counters->unfinished;
        return;
      }
    }
  }

  // Returns true once HEAD reports the upload complete (and its digest was checked).
  bool upload(const std::string& id, const UploadLog& log, const std::string& data) {
    while (Clock::now() < deadline && !stop->load()) {
      std::optional<Response> head;
      try {
        head = tus_head(port, log.url);
      } catch (const std::runtime_error&) {
      }
      if (!head) {  // down, or killed while answering
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (head->status != 200 || head->header("upload-offset").empty()) {
        odd(log.url + ": HEAD answered " + std::to_string(head->status));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      const uint64_t offset = std::stoull(head->header("upload-offset"));
      ledger->acknowledged(id, offset);
      if (offset > log.size) {
        violation(log.url + ": HEAD reports offset " + std::to_string(offset) + " past " +
                  std::to_string(log.size));
        return false;
      }
      if (offset == log.size) {
        check_repr_digest(*head, log, data);
        ++counters->completed;
        return true;
      }
      send_one(id, log, data, offset);
    }
    return false;
  }

  void check_repr_digest(const Response& head, const UploadLog& log, const std::string& data) {
    const std::string got = head.header("repr-digest");
    if (got.empty()) {
      // Spliced bytes never pass through memory: a plain request in splice mode makes the
      // upload's digest unknown, and it is then not claimed. Nothing else may.
      if (splice_mode() && !log.checksummed_only) {
        ++counters->digests_absent_spliced;
      } else {
        violation(log.url + ": complete, but HEAD has no Repr-Digest");
      }
      return;
    }
    if (got != repr_digest(data)) {
      violation(log.url + ": Repr-Digest " + got + ", the file's is " + repr_digest(data));
      return;
    }
    ++counters->digests_verified;
  }

  void send_one(const std::string& id, const UploadLog& log, const std::string& data,
                uint64_t offset) {
    const uint64_t n = std::min<uint64_t>(64 * kKiB + rng() % (576 * kKiB), log.size - offset);
    Request r;
    r.start = offset;
    r.end = offset + n;
    const bool plain = !log.checksummed_only && rng() % 10 < 4;
    r.body = plain ? Body::kPlain : rng() % 10 < 3 ? Body::kTrailerChecksum : Body::kHeaderChecksum;
    if (!plain) {
      uint64_t t = rng() % 100;
      r.twist = t < 8    ? Twist::kWrongDigest
                : t < 16 ? Twist::kCorruptBytes
                : t < 24 ? Twist::kAbandoned
                         : Twist::kNone;
    }
    std::string bytes = data.substr(offset, n);
    std::string checksum;
    if (!plain) {
      const char* algorithm = kAlgorithms[rng() % std::size(kAlgorithms)];
      std::string digested = bytes;
      if (r.twist == Twist::kWrongDigest) digested[rng() % n] ^= 0x20;
      checksum = std::string(algorithm) + " " + base64(digest(algorithm, digested));
      if (r.twist == Twist::kCorruptBytes) bytes[rng() % n] ^= 0x01;
    }
    const std::string text = patch_text(log.url, offset, bytes, r.body, checksum);
    try {
      Connection conn(port);
      ledger->sent(id, r);
      ++(plain ? counters->plain_sent : counters->checksummed_sent);
      if (r.twist == Twist::kAbandoned) {
        // Gone mid-body: somewhere in the middle of the bytes, never at their end.
        conn.send_all(text.data(), text.size() - n / 2 - 16);
        conn.close_now();
        ++counters->abandoned;
        return;
      }
      conn.send_all(text);  // an early answer is read even if the body could not all be sent
      judge(id, log, r, conn.read_response());
    } catch (const std::runtime_error&) {  // the server is down
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  void judge(const std::string& id, const UploadLog& log, const Request& r,
             const std::optional<Response>& answer) {
    if (!answer) {
      ++counters->no_answer;  // killed while it ran
      return;
    }
    const std::string what = log.url + ": " + body_name(r.body) + twist_name(r.twist) + " PATCH [" +
                             std::to_string(r.start) + "," + std::to_string(r.end) + ") answered " +
                             std::to_string(answer->status) + " with offset '" +
                             answer->header("upload-offset") + "'";
    std::optional<uint64_t> offset;
    if (!answer->header("upload-offset").empty()) {
      offset = std::stoull(answer->header("upload-offset"));
      ledger->acknowledged(id, *offset);
    }
    switch (answer->status) {
      case 204:
        ++counters->answers_204;
        if (r.body == Body::kTrailerChecksum) ++counters->trailer_204;
        if (r.twist != Twist::kNone) violation(what + ": an unverified request acknowledged");
        if (offset != r.end) violation(what + ": not at the request's end");
        break;
      case 460:
        ++counters->answers_460;
        if (r.twist == Twist::kNone) odd(what + ": a right digest refused");
        if (offset != r.start) violation(what + ": a refused request moved the offset");
        break;
      case 409:  // a request cut off by this one committed what it had first
        ++counters->answers_409;
        if (!offset) odd(what + ": 409 without an offset");
        break;
      default:
        odd(what + ": " + answer->body);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// The checks on what a killed server left.

struct SlotState {
  bool valid = false;
  uint64_t sequence = 0;
  uint64_t offset = 0;
  uint32_t flags = 0;
  uint32_t content_crc32c = 0;
};

uint64_t le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

constexpr uint32_t kSlotMagic = 0x4C534752;    // docs/storage-format.md: "RGSL"
constexpr uint32_t kFlagContentCrc = 1u << 2;  // the slot's bytes 56..59 hold the CRC

// The newest valid commit slot of a record file (magic, version 1..3, CRC-32C), as recovery
// picks it.
SlotState newest_slot(const std::string& record) {
  SlotState best;
  for (size_t at : {size_t{0}, size_t{512}}) {
    if (record.size() < at + 512) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(record.data() + at);
    uint64_t version = le(p + 4, 2);
    if (le(p, 4) != kSlotMagic || version < 1 || version > 3) continue;
    if (le(p + 508, 4) != kCrc32c.extend(0, std::string_view(record.data() + at, 508))) continue;
    SlotState s;
    s.valid = true;
    s.sequence = le(p + 8, 8);
    s.offset = le(p + 16, 8);
    s.flags = version >= 2 ? static_cast<uint32_t>(le(p + 32, 4)) : 0;
    s.content_crc32c = version == 3 ? static_cast<uint32_t>(le(p + 56, 4)) : 0;
    if (!best.valid || s.sequence > best.sequence) best = s;
  }
  return best;
}

struct CheckStats {
  int record_checks = 0;
  int commits_checked = 0;
  int commits_checksummed_only = 0;  // on uploads without a single plain request
  int commits_inside_plain = 0;      // proof that plain requests do commit mid-request here
  int verified_unacknowledged = 0;   // a verified request committed, its answer lost to a kill
  int crcs_checked = 0;
};

class Checker {
 public:
  Checker(std::string data_dir, std::string synclog)
      : data_dir_(std::move(data_dir)), synclog_(std::move(synclog)) {}

  // With the server dead. Returns each checked upload's record offset, by id.
  std::map<std::string, uint64_t> after_kill(Ledger& ledger, int round, Counters& counters) {
    std::map<std::string, uint64_t> offsets;
    auto uploads = ledger.snapshot();
    auto violation = [&](const std::string& what) {
      ++counters.violations;
      ADD_FAILURE() << "round " << round << ": " << what;
    };
    // Every commit that became durable since the last look.
    std::istringstream lines(read_file(synclog_));
    std::string line;
    for (size_t index = 0; std::getline(lines, line); ++index) {
      if (index < synclog_lines_) continue;
      ++synclog_lines_;
      std::istringstream fields(line);
      std::string word, id;
      uint64_t sequence = 0, offset = 0;
      if (!(fields >> word >> id >> sequence >> offset) || word != "commit") {
        violation("synclog line '" + line + "' unreadable");
        continue;
      }
      auto it = uploads.find(id);
      if (it == uploads.end()) {
        violation("a commit of " + id + ", an upload no client made");
        continue;
      }
      ++stats_.commits_checked;
      Why why = explain(it->second, offset);
      if (it->second.checksummed_only) ++stats_.commits_checksummed_only;
      if (why == Why::kInsidePlain) ++stats_.commits_inside_plain;
      if (why == Why::kUnexplained) {
        violation("durable commit at " + std::to_string(offset) + " (sequence " +
                  std::to_string(sequence) +
                  ") that no verified request ends at: " + describe(it->second));
      }
    }
    // What recovery will read.
    for (auto& [id, u] : uploads) {
      if (u.done) continue;
      const std::string base = data_dir_ + "/uploads/" + id;
      SlotState slot = newest_slot(read_file(base + ".rec"));
      ++stats_.record_checks;
      if (!slot.valid) {
        violation(u.url + ": no valid commit slot");
        continue;
      }
      offsets[id] = slot.offset;
      if (slot.offset < u.acknowledged) {
        violation(u.url + ": acknowledged at " + std::to_string(u.acknowledged) +
                  ", the record says " + std::to_string(slot.offset));
      }
      Why why = explain(u, slot.offset);
      if (why == Why::kUnexplained) {
        violation(u.url + ": record offset " + std::to_string(slot.offset) +
                  " that no verified request ends at: " + describe(u));
      }
      if (why == Why::kVerifiedEnd && slot.offset > u.acknowledged) {
        ++stats_.verified_unacknowledged;
      }
      if (slot.offset > u.size) {
        violation(u.url + ": record offset past the length");
        continue;
      }
      const std::string expected = random_bytes(u.size, u.seed);
      const std::string stored = read_file(base + ".bin");
      if (stored.size() < slot.offset ||
          stored.compare(0, slot.offset, expected, 0, slot.offset) != 0) {
        violation(u.url + ": the bytes below offset " + std::to_string(slot.offset) +
                  " are not the client's");
      }
      if (slot.flags & kFlagContentCrc) {
        ++stats_.crcs_checked;
        uint32_t want = prefix_crc(id, expected, slot.offset);
        if (slot.content_crc32c != want) {
          violation(u.url + ": record CRC-32C " + std::to_string(slot.content_crc32c) +
                    " at offset " + std::to_string(slot.offset) + ", the bytes' is " +
                    std::to_string(want));
        }
      } else if (!splice_mode() || u.checksummed_only) {
        violation(u.url + ": the record does not know its CRC-32C");
      }
      if (slot.offset == u.size) ledger.mark_done(id);
    }
    return offsets;
  }

  const CheckStats& stats() const { return stats_; }

 private:
  // CRC-32C of expected[0, offset), extended from the last prefix computed for this upload.
  uint32_t prefix_crc(const std::string& id, const std::string& expected, uint64_t offset) {
    auto& [at, crc] = prefix_crcs_[id];
    if (offset < at) at = crc = 0;
    crc = kCrc32c.extend(crc, std::string_view(expected).substr(at, offset - at));
    at = offset;
    return crc;
  }

  std::string data_dir_;
  std::string synclog_;
  size_t synclog_lines_ = 0;
  std::map<std::string, std::pair<uint64_t, uint32_t>> prefix_crcs_;
  CheckStats stats_;
};

TEST(ChecksumCrashCampaign, SigkillWhileClientsSendChecksummedPatches) {
  // The references first: the check values of the CRC catalogue.
  ASSERT_EQ(kCrc32c.extend(0, "123456789"), 0xE3069283u);
  ASSERT_EQ(kCrc32.extend(0, "123456789"), 0xCBF43926u);
  ASSERT_EQ(base64(digest("crc32c", "abc")), "Nks/tw==");
  ASSERT_EQ(base64(digest("crc32", "abc")), "NSRBwg==");

  const int rounds = env_int("RINGEST_CAMPAIGN_ROUNDS", 20);
  const int clients = 6;
  TempDir dir;
  const std::string data_dir = dir.path() + "/data";
  const std::string synclog = dir.path() + "/synclog";
  const uint16_t port = free_port();
  // 64 KiB checkpoints: a plain request commits in its middle, so a checksummed one not doing
  // so is a property and not an accident. A slot write that starts 2 ms late widens the window
  // between the data's fdatasync and the record's, where more kills land.
  const std::vector<std::string> args = {"--checkpoint-bytes", "64K", "--fault-plan",
                                         "synclog=" + synclog + ",record-write:delay2@1+"};
  auto server = std::make_unique<Server>(data_dir, args, port);
  server->start();

  Ledger ledger;
  Counters counters;
  Checker checker(data_dir, synclog);
  std::atomic<bool> stop{false};
  const auto deadline = Clock::now() + std::chrono::seconds(60 + 3 * rounds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Client client{c,
                    port,
                    &ledger,
                    &counters,
                    &stop,
                    deadline,
                    std::mt19937_64(static_cast<uint64_t>(4242 + c))};
      client.run();
    });
  }

  std::mt19937 rng(2026);
  int head_checks = 0;
  auto kill_and_check = [&](int round, bool restart) {
    server->kill9();
    std::map<std::string, uint64_t> recorded = checker.after_kill(ledger, round, counters);
    if (!restart) return;
    server = std::make_unique<Server>(data_dir, args, port);
    server->start();
    // Recovery must find what the record holds (clients may have moved on since).
    for (const auto& [id, offset] : recorded) {
      std::optional<uint64_t> now = head_offset(port, "/files/" + id);
      ++head_checks;
      if (!now || *now < offset) {
        ++counters.violations;
        ADD_FAILURE() << "round " << round << ": /files/" << id << " recorded at " << offset
                      << ", after restart " << (now ? std::to_string(*now) : "missing");
      }
    }
  };
  try {
    for (int round = 0; round < rounds; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(40 + rng() % 200));
      kill_and_check(round, true);
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "campaign stopped: " << e.what();
  }
  stop = true;
  for (auto& t : threads) t.join();
  kill_and_check(rounds, false);  // and once more, with every upload's last state

  const CheckStats& s = checker.stats();
  std::printf(
      "checksum campaign: %d rounds; %d checksummed and %d plain PATCHes sent (%d abandoned), "
      "answers: %d x 204 (%d with a trailer), %d x 460, %d x 409, %d none; %d durable commits "
      "checked (%d on checksummed-only uploads, %d inside plain requests), %d verified but "
      "unacknowledged at a kill; %d record checks, %d record CRCs, %d HEAD checks; %d uploads "
      "complete, %d Repr-Digests verified, %d absent (spliced); %d violations, %d odd answers\n",
      rounds, counters.checksummed_sent.load(), counters.plain_sent.load(),
      counters.abandoned.load(), counters.answers_204.load(), counters.trailer_204.load(),
      counters.answers_460.load(), counters.answers_409.load(), counters.no_answer.load(),
      s.commits_checked, s.commits_checksummed_only, s.commits_inside_plain,
      s.verified_unacknowledged, s.record_checks, s.crcs_checked, head_checks,
      counters.completed.load(), counters.digests_verified.load(),
      counters.digests_absent_spliced.load(), counters.violations.load(), counters.odd.load());
  EXPECT_EQ(counters.violations.load(), 0);
  EXPECT_EQ(counters.odd.load(), 0);
  EXPECT_EQ(counters.unfinished.load(), 0);
  EXPECT_GE(counters.completed.load(), clients);
  EXPECT_EQ(counters.digests_verified.load() + counters.digests_absent_spliced.load(),
            counters.completed.load());
  // The campaign exercised what it claims to: refused digests, trailers, abandoned bodies,
  // commits on checksummed-only uploads, and plain requests committed mid-way (without which
  // "never inside a checksummed request" would prove nothing).
  EXPECT_GT(counters.answers_460.load(), 0);
  EXPECT_GT(counters.trailer_204.load(), 0);
  EXPECT_GT(counters.abandoned.load(), 0);
  EXPECT_GT(s.commits_checksummed_only, rounds);
  EXPECT_GT(s.commits_inside_plain, 0);
  EXPECT_GT(s.record_checks, rounds);
}

}  // namespace
}  // namespace ringest::test
