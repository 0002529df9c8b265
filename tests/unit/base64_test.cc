// Proves engine/base/base64: the RFC 4648 test vectors; encoding equals OpenSSL's
// EVP_EncodeBlock at every length; decoding agrees with OpenSSL's EVP_DecodeBlock on every
// one- and two-byte final group and on random text, while refusing everything OpenSSL refuses
// and everything that is not strictly padded base64; non-canonical final bits are told apart
// from malformed text; a short buffer is refused before a byte is written.
#include "engine/base/base64.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ringest {
namespace {

std::string encode(std::string_view bytes) {
  std::string out(base64_encoded_chars(bytes.size()), '?');
  EXPECT_EQ(base64_encode(bytes.data(), bytes.size(), out.data()), out.size());
  return out;
}

std::string openssl_encode(std::string_view bytes) {
  std::vector<unsigned char> out(base64_encoded_chars(bytes.size()) + 1);
  int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(n));
}

// OpenSSL's decoding with the padding bytes removed (EVP_DecodeBlock returns 3 bytes per group
// and leaves that to the caller), or -1 when it refuses the text.
bool openssl_decode(std::string_view text, std::string* out) {
  std::vector<unsigned char> buf(text.size() / 4 * 3 + 3);
  int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out->assign(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(n) - pad);
  return true;
}

Base64Result decode(std::string_view text, std::string* out) {
  out->assign(base64_decoded_bytes(text) + 8, '\0');
  size_t decoded = 0;
  Base64Result r =
      base64_decode(text, reinterpret_cast<uint8_t*>(out->data()), out->size(), &decoded);
  if (r == Base64Result::kOk || r == Base64Result::kNotCanonical) {
    out->resize(decoded);
  } else {
    out->clear();
  }
  return r;
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(encode(plain), encoded);
    std::string back;
    EXPECT_EQ(decode(encoded, &back), Base64Result::kOk) << encoded;
    EXPECT_EQ(back, plain);
    EXPECT_EQ(base64_check(encoded), Base64Result::kOk);
    EXPECT_EQ(base64_decoded_bytes(encoded), plain.size());
  }
  EXPECT_EQ(encode("\xfb\xff"), "+/8=");  // the two characters past the letters and digits
}

TEST(Base64Test, EncodeEqualsOpenSslAtEveryLength) {
  std::mt19937 rng(1234);
  for (size_t n = 0; n <= 300; ++n) {
    std::string bytes = random_bytes(rng, n);
    std::string ours = encode(bytes);
    ASSERT_EQ(ours, openssl_encode(bytes)) << "length " << n;
    std::string back;
    ASSERT_EQ(decode(ours, &back), Base64Result::kOk) << "length " << n;
    ASSERT_EQ(back, bytes);
    std::string theirs;
    ASSERT_TRUE(openssl_decode(ours, &theirs));
    ASSERT_EQ(theirs, bytes);
  }
}

TEST(Base64Test, EveryShortFinalGroupAgreesWithOpenSsl) {
  // All 64^2 "XY==" and 64^3 "XYZ=" groups behind a full group: OpenSSL decodes every one of
  // them (it ignores non-zero unused bits); we decode the same bytes and call exactly those
  // canonical that re-encode to themselves.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t not_canonical = 0;
  for (int chars = 2; chars <= 3; ++chars) {
    size_t total = chars == 2 ? 64 * 64 : 64 * 64 * 64;
    for (size_t i = 0; i < total; ++i) {
      std::string text = "QUJD";
      size_t v = i;
      for (int k = 0; k < chars; ++k, v /= 64) text += alphabet[v % 64];
      text += chars == 2 ? "==" : "=";
      std::string ours;
      std::string theirs;
      Base64Result r = decode(text, &ours);
      ASSERT_TRUE(openssl_decode(text, &theirs)) << text;
      ASSERT_TRUE(r == Base64Result::kOk || r == Base64Result::kNotCanonical) << text;
      ASSERT_EQ(ours, theirs) << text;
      ASSERT_EQ(r == Base64Result::kOk, encode(ours) == text) << text;
      ASSERT_EQ(base64_check(text), r) << text;
      if (r == Base64Result::kNotCanonical) ++not_canonical;
    }
  }
  // 15/16 of the 2-character groups (4 unused bits) and 3/4 of the 3-character groups (2 unused
  // bits) are not canonical.
  EXPECT_EQ(not_canonical, 64 * 64 * 15 / 16 + 64 * 64 * 64 * 3 / 4);
}

TEST(Base64Test, RandomTextAgreesWithOpenSslWhereverWeAccept) {
  // Text over the alphabet, '=' and a few foreign characters (no whitespace, which OpenSSL
  // skips at the ends and we refuse). Whatever OpenSSL refuses we refuse; whatever we accept
  // OpenSSL decodes to the same bytes. We also refuse what OpenSSL tolerates: '=' inside.
  std::mt19937 rng(99);
  const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/===-_.*";
  size_t accepted = 0;
  for (int iteration = 0; iteration < 200000; ++iteration) {
    size_t n = rng() % 13;
    std::string text;
    for (size_t i = 0; i < n; ++i) text += chars[rng() % chars.size()];
    std::string ours;
    std::string theirs;
    Base64Result r = decode(text, &ours);
    bool openssl_ok = openssl_decode(text, &theirs);
    if (!openssl_ok) {
      ASSERT_EQ(r, Base64Result::kMalformed) << text;
    }
    if ((r == Base64Result::kOk || r == Base64Result::kNotCanonical) && !text.empty()) {
      ++accepted;
      ASSERT_TRUE(openssl_ok) << text;
      ASSERT_EQ(ours, theirs) << text;
      size_t padding = text.size() - text.find_last_not_of('=') - 1;
      ASSERT_LE(padding, 2u) << text;
      if (padding > 0) {
        ASSERT_EQ(text.find('='), text.size() - padding) << text;
      } else {
        ASSERT_EQ(text.find('='), std::string::npos) << text;
      }
    }
  }
  EXPECT_GT(accepted, 1000u);  // the comparison was not vacuous
}

TEST(Base64Test, StrictRejections) {
  const std::string_view kRejected[] = {
      "Zg",         "Zg=",   "Zg===", "Z===",   "====", "Zm9v====", "Zg==Zg==",
      "Z=g=",       "Zm 9v", " Zm9v", "Zm9v\n", "Zm9-", "Zm9_",     std::string_view("Zm\0v", 4),
      "\xc3\xa9Zm9"};
  for (std::string_view text : kRejected) {
    EXPECT_EQ(base64_check(text), Base64Result::kMalformed) << text;
    std::string out;
    EXPECT_EQ(decode(text, &out), Base64Result::kMalformed) << text;
  }
}

TEST(Base64Test, NonCanonicalIsDecodedAndReported) {
  std::string out;
  EXPECT_EQ(decode("Zh==", &out), Base64Result::kNotCanonical);  // 'h' leaves bit 0 of 4 set
  EXPECT_EQ(out, "f");
  EXPECT_EQ(decode("Zm9=", &out), Base64Result::kNotCanonical);
  EXPECT_EQ(out, "fo");
  EXPECT_EQ(decode("Zm8=", &out), Base64Result::kOk);
}

TEST(Base64Test, ShortBufferWritesNothing) {
  uint8_t buf[4] = {0xAA, 0xAA, 0xAA, 0xAA};
  size_t decoded = 77;
  EXPECT_EQ(base64_decode("Zm9vYg==", buf, 3, &decoded), Base64Result::kBufferTooSmall);
  EXPECT_EQ(decoded, 77u);
  for (uint8_t b : buf) EXPECT_EQ(b, 0xAA);
  EXPECT_EQ(base64_decode("Zm9vYg==", buf, 4, &decoded), Base64Result::kOk);
  EXPECT_EQ(decoded, 4u);
  EXPECT_EQ(std::memcmp(buf, "foob", 4), 0);
  // Empty text needs no buffer at all.
  EXPECT_EQ(base64_decode("", nullptr, 0, &decoded), Base64Result::kOk);
  EXPECT_EQ(decoded, 0u);
}

}  // namespace
}  // namespace ringest
