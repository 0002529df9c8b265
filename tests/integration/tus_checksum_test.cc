// The tus checksum and checksum-trailer extensions against the real ringestd: a request's bytes
// count only when their digest matches (460 and an unmoved offset otherwise), an unknown or
// malformed checksum is a 400 before any body byte is taken, a checksummed request is never
// committed in part (not at a checkpoint, not on a disconnect), and every upload carries a
// whole-file CRC-32C that HEAD reports once it is complete, across restarts.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

struct Vector {
  const char* algorithm;
  const char* abc;  // base64 digest of "abc"
  const char* abd;  // ... of "abd"
};
// Computed independently (Python's hashlib and zlib, and a bitwise CRC-32C).
constexpr Vector kVectors[] = {
    {"sha1", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "y0zCjfD9vg7PnZZi4pSxGAkqVzU="},
    {"sha256", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
     "pS0VnyYrLG3bckphhAvvw26zDIiHekAwtly+himESck="},
    {"md5", "kAFQmDzST7DWlj99KOF/cg==", "SRHlFuWqIdMnUS4Mixl2Fg=="},
    {"crc32", "NSRBwg==", "q0DUYQ=="},
    {"crc32c", "Nks/tw==", "4oFbXA=="},
};

std::string sha256_b64(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  unsigned char out[EVP_MAX_MD_SIZE * 2];
  int chars = EVP_EncodeBlock(out, md, static_cast<int>(n));
  return std::string(reinterpret_cast<char*>(out), chars);
}

class TusChecksum : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(std::vector<std::string> args, uint16_t port = 0) {
    args.insert(args.end(), {"--max-upload-bytes", "64M"});
    server_ = std::make_unique<Server>(dir_.path() + "/data", args, port);
    server_->start();
    port_ = server_->port();
  }
  std::string patch_text(const std::string& location, uint64_t offset, size_t body_bytes,
                         const std::string& extra) {
    return "PATCH " + location + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " +
           std::to_string(offset) +
           "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
           std::to_string(body_bytes) + "\r\n" + extra + "\r\n";
  }
  std::optional<Response> patch(const std::string& location, uint64_t offset,
                                const std::string& extra, const std::string& body) {
    return request(port_, patch_text(location, offset, body.size(), extra) + body);
  }
  // A chunked PATCH: `body` in chunks of up to 1000 bytes, then `trailer` fields (raw lines).
  std::optional<Response> chunked_patch(const std::string& location, uint64_t offset,
                                        const std::string& extra, const std::string& body,
                                        const std::string& trailer) {
    std::string text = "PATCH " + location +
                       " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " +
                       std::to_string(offset) +
                       "\r\nContent-Type: application/offset+octet-stream\r\n"
                       "Transfer-Encoding: chunked\r\n" +
                       extra + "\r\n";
    for (size_t at = 0; at < body.size(); at += 1000) {
      std::string piece = body.substr(at, 1000);
      char size[32];
      snprintf(size, sizeof size, "%zx\r\n", piece.size());
      text += size + piece + "\r\n";
    }
    text += "0\r\n" + trailer + "\r\n";
    return request(port_, text);
  }
  std::optional<Response> head(const std::string& location) { return tus_head(port_, location); }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(TusChecksum, OptionsAdvertiseTheExtensionsAndTheAlgorithms) {
  auto r = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_NE(r->header("tus-extension").find("checksum,checksum-trailer"), std::string::npos)
      << r->header("tus-extension");
  EXPECT_EQ(r->header("tus-checksum-algorithm"), "sha1,sha256,md5,crc32,crc32c");
}

TEST_F(TusChecksum, EveryAlgorithmCountsMatchingBytesAndRefusesOthersWith460) {
  for (const Vector& v : kVectors) {
    std::string loc = tus_create(port_, 6);
    ASSERT_FALSE(loc.empty());
    std::string wrong = std::string("Upload-Checksum: ") + v.algorithm + " " + v.abd + "\r\n";
    auto r = patch(loc, 0, wrong, "abc");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 460) << v.algorithm;
    EXPECT_EQ(r->header("upload-offset"), "0") << v.algorithm;
    EXPECT_EQ(head_offset(port_, loc), 0u) << v.algorithm;
    std::string right = std::string("Upload-Checksum: ") + v.algorithm + " " + v.abc + "\r\n";
    r = patch(loc, 0, right, "abc");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204) << v.algorithm;
    EXPECT_EQ(r->header("upload-offset"), "3") << v.algorithm;
    // The bytes of the refused request were overwritten, never reported.
    r = patch(loc, 3, std::string("Upload-Checksum: ") + v.algorithm + " " + v.abd + "\r\n", "abd");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204) << v.algorithm;
    auto got = request(port_, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->body, "abcabd") << v.algorithm;
  }
}

TEST_F(TusChecksum, UnknownOrMalformedChecksumIs400BeforeAnyBodyByte) {
  std::string loc = tus_create(port_, 6);
  ASSERT_FALSE(loc.empty());
  // An algorithm nobody offers: refused at the head, no 100 Continue, nothing read.
  Connection c(port_);
  ASSERT_TRUE(c.send_all(patch_text(loc, 0, 3,
                                    "Expect: 100-continue\r\nUpload-Checksum: sha512 "
                                    "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "unsupported checksum algorithm (see Tus-Checksum-Algorithm)\n");
  for (std::string value :
       {"sha1", "SHA1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "sha1 YWJj", "md5 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        "sha1  qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "crc32c qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        "sha256 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "crc32 Nks/tw"}) {
    r = patch(loc, 0, "Upload-Checksum: " + value + "\r\n", "abc");
    ASSERT_TRUE(r) << value;
    EXPECT_EQ(r->status, 400) << value;
  }
  EXPECT_EQ(head_offset(port_, loc), 0u);
  // The same on creation: nothing is created.
  uint64_t before = metric(port_, "ringest_uploads");
  r = request(port_,
              "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 3\r\n"
              "Upload-Checksum: whirlpool qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\r\n"
              "Content-Type: application/offset+octet-stream\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(metric(port_, "ringest_uploads"), before);
}

TEST_F(TusChecksum, CreationWithUploadIsVerifiedAndAMismatchStillGivesTheLocation) {
  auto post = [&](const char* digest) {
    return request(port_,
                   "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 6\r\n"
                   "Upload-Checksum: sha1 " + std::string(digest) +
                       "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: "
                       "3\r\n\r\nabc");
  };
  auto r = post(kVectors[0].abc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("upload-offset"), "3");
  r = post(kVectors[0].abd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 460);
  EXPECT_EQ(r->header("upload-offset"), "0");
  std::string loc = r->header("location");
  ASSERT_FALSE(loc.empty());
  EXPECT_EQ(head_offset(port_, loc), 0u);
  EXPECT_EQ(status_of(patch(loc, 0, "", "abcdef")), 204);
}

TEST_F(TusChecksum, AConnectionGoesOnAfterA460) {
  std::string loc = tus_create(port_, 3);
  ASSERT_FALSE(loc.empty());
  Connection c(port_);
  ASSERT_TRUE(c.send_all(patch_text(loc, 0, 3, "Upload-Checksum: md5 SRHlFuWqIdMnUS4Mixl2Fg==\r\n") +
                         "abc"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 460);
  EXPECT_EQ(r->header("connection"), "");
  ASSERT_TRUE(c.send_all(patch_text(loc, 0, 3, "Upload-Checksum: md5 kAFQmDzST7DWlj99KOF/cg==\r\n") +
                         "abc"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "3");
}

// A large checksummed body over many slots with a tiny checkpoint interval: no checkpoint
// commits while it arrives, and a mismatch at the end leaves nothing.
TEST_F(TusChecksum, LargeBodyIsNeverCommittedBeforeItsDigestMatches) {
  server_.reset();
  start({"--checkpoint-bytes", "64K"});
  const size_t kBytes = 8u << 20;
  std::string data = random_bytes(kBytes, 11);
  std::string loc = tus_create(port_, kBytes);
  ASSERT_FALSE(loc.empty());
  std::string digest = "Upload-Checksum: sha256 " + sha256_b64(data) + "\r\n";
  std::string wrong = "Upload-Checksum: sha256 " + sha256_b64(data.substr(1)) + "\r\n";

  // Half the body, then wait until the server has written it: a plain request would have
  // committed it at checkpoints by now.
  uint64_t written_before = metric(port_, "ringest_body_bytes_written_total");
  Connection c(port_);
  ASSERT_TRUE(c.send_all(patch_text(loc, 0, kBytes, wrong)));
  ASSERT_TRUE(c.send_all(data.data(), kBytes / 2));
  for (int i = 0; i < 500; ++i) {
    if (metric(port_, "ringest_body_bytes_written_total") - written_before >= kBytes / 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(metric(port_, "ringest_body_bytes_written_total") - written_before, kBytes / 2);
  EXPECT_EQ(head_offset(port_, loc), 0u);
  ASSERT_TRUE(c.send_all(data.data() + kBytes / 2, kBytes - kBytes / 2));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 460);
  EXPECT_EQ(r->header("upload-offset"), "0");
  EXPECT_EQ(head_offset(port_, loc), 0u);

  r = patch(loc, 0, digest, data);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), std::to_string(kBytes));
  EXPECT_EQ(sha256_file(server_->data_dir() + "/uploads/" + id_of(loc) + ".bin"),
            sha256_hex(data));
}

// A client that goes away in the middle of a checksummed body: nothing of it counts (a plain
// request keeps what arrived; that is checked too, so the test can tell the two apart).
TEST_F(TusChecksum, ADisconnectKeepsNothingOfAChecksummedRequest) {
  server_.reset();
  start({"--checkpoint-bytes", "64K"});
  const size_t kBytes = 4u << 20;
  std::string data = random_bytes(kBytes, 12);
  for (bool checksummed : {true, false}) {
    std::string loc = tus_create(port_, kBytes);
    ASSERT_FALSE(loc.empty());
    std::string extra =
        checksummed ? "Upload-Checksum: sha256 " + sha256_b64(data) + "\r\n" : std::string();
    uint64_t written_before = metric(port_, "ringest_body_bytes_written_total");
    {
      Connection c(port_);
      ASSERT_TRUE(c.send_all(patch_text(loc, 0, kBytes, extra)));
      ASSERT_TRUE(c.send_all(data.data(), kBytes / 2));
      for (int i = 0; i < 500; ++i) {
        if (metric(port_, "ringest_body_bytes_written_total") - written_before >= kBytes / 2) {
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }  // closed mid-body
    // The upload is free again once the server saw the close: a resume at 0 (checksummed) or at
    // the kept offset (plain) succeeds.
    std::optional<uint64_t> offset;
    for (int i = 0; i < 200; ++i) {
      offset = head_offset(port_, loc);
      if (!checksummed && offset && *offset > 0) break;
      if (checksummed) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(offset);
    if (checksummed) {
      EXPECT_EQ(*offset, 0u);
      auto r = patch(loc, 0, extra, data);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 204);
      EXPECT_EQ(r->header("upload-offset"), std::to_string(kBytes));
    } else {
      EXPECT_GT(*offset, 0u);
      EXPECT_LE(*offset, kBytes / 2);
    }
  }
}

TEST_F(TusChecksum, TrailerIsVerifiedLikeTheHeader) {
  std::string data = random_bytes(5000, 13);
  std::string loc = tus_create(port_, data.size());
  ASSERT_FALSE(loc.empty());
  std::string announce = "Trailer: Upload-Checksum\r\n";
  std::string right = "Upload-Checksum: sha256 " + sha256_b64(data) + "\r\n";
  std::string wrong = "Upload-Checksum: sha256 " + sha256_b64(data.substr(1)) + "\r\n";
  auto r = chunked_patch(loc, 0, announce, data, wrong);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 460);
  EXPECT_EQ(r->header("upload-offset"), "0");
  // Announced but not sent: nothing counts.
  r = chunked_patch(loc, 0, announce, data, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("upload-offset"), "0");
  // Malformed, or an algorithm nobody offers.
  r = chunked_patch(loc, 0, announce, data, "Upload-Checksum: sha256 nope\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = chunked_patch(loc, 0, announce, data, "Upload-Checksum: sha3 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // Not announced: its bytes were not held back, so it is refused rather than trusted.
  r = chunked_patch(loc, 0, "", data, right);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("upload-offset"), "0");
  // Both a header and an announced trailer: refused at the head.
  r = chunked_patch(loc, 0, announce + right, data, right);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(head_offset(port_, loc), 0u);
  // Every algorithm, named only in the trailer.
  std::string loc2 = tus_create(port_, 3 * std::size(kVectors));
  ASSERT_FALSE(loc2.empty());
  uint64_t offset = 0;
  for (const Vector& v : kVectors) {
    r = chunked_patch(loc2, offset, announce, "abc",
                      std::string("upload-checksum: ") + v.algorithm + " " + v.abc + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204) << v.algorithm;
    offset += 3;
    EXPECT_EQ(r->header("upload-offset"), std::to_string(offset)) << v.algorithm;
  }
  r = chunked_patch(loc, 0, announce, data, right);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), std::to_string(data.size()));
}

// Regression: Trailer was read from its first field line only, so a client that announced the
// checksum trailer on a second `Trailer:` line got 400 for a right digest. A list field's lines
// make one list (RFC 9110 5.3).
TEST_F(TusChecksum, TrailerAnnouncedOnASecondFieldLineCounts) {
  std::string data = random_bytes(3000, 15);
  std::string loc = tus_create(port_, data.size());
  ASSERT_FALSE(loc.empty());
  std::string right = "Upload-Checksum: sha256 " + sha256_b64(data) + "\r\n";
  auto r = chunked_patch(loc, 0, "Trailer: X-Request-Timing\r\nTrailer: Upload-Checksum\r\n", data,
                         right);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  EXPECT_EQ(r->header("upload-offset"), std::to_string(data.size()));
}

// The whole-file CRC-32C, kept in the record with every commit: HEAD of a complete upload
// reports it (RFC 9530 Repr-Digest), also after a restart in the middle of the upload.
TEST_F(TusChecksum, HeadOfACompleteUploadReportsItsWholeFileDigest) {
  const size_t kBytes = 3u << 20;
  std::string data = random_bytes(kBytes, 14);
  std::string loc = tus_create(port_, kBytes);
  ASSERT_FALSE(loc.empty());
  ASSERT_EQ(status_of(patch(loc, 0, "", data.substr(0, 1000001))), 204);
  auto r = head(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("repr-digest"), "");  // not complete yet
  uint16_t port = port_;
  server_->kill9();
  server_.reset();
  start({}, port);
  ASSERT_EQ(status_of(patch(loc, 1000001, "", data.substr(1000001, 1 << 20))), 204);
  ASSERT_EQ(status_of(patch(loc, 1000001 + (1 << 20), "", data.substr(1000001 + (1 << 20)))),
            204);
  r = head(loc);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->header("upload-offset"), std::to_string(kBytes));
  if (test_io_mode_is("splice")) {
    // Spliced bytes never enter memory: the digest is unknown, and not claimed.
    EXPECT_EQ(r->header("repr-digest"), "");
  } else {
    EXPECT_EQ(r->header("repr-digest"), repr_digest_crc32c(bitwise_crc32c(data)));
  }
  // A zero-length upload is complete at once, with the CRC of nothing.
  std::string empty = tus_create(port_, 0);
  r = head(empty);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("repr-digest"), "crc32c=:AAAAAA==:");
}

}  // namespace
}  // namespace ringest::test
