// Proves the pieces of access control on their own: token files parse as documented (comments,
// blanks, trimming, bad lines named, an empty file refused); bearer headers are recognised; the
// allocation-free HMAC-SHA256 equals RFC 4231 and OpenSSL's HMAC(); signed URLs verify only for
// their method, path and expiry (wrong, expired, tampered and malformed ones are told apart);
// comparisons go through CRYPTO_memcmp and neither the token check nor the signature check
// makes OpenSSL allocate; a token set can be replaced while other threads read it; and the
// policy's verdicts, CORS headers and signed Location follow docs/access-control.md.
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/base/config.h"
#include "http/access/access_policy.h"
#include "http/access/credential_files.h"
#include "http/access/hmac_sha256.h"
#include "http/access/signed_url.h"
#include "http/access/token_set.h"

namespace ringest::access {
namespace {

// OpenSSL's allocations, counted from before its first use (a static initializer runs before
// main, so CRYPTO_set_mem_functions is still allowed to take effect).
std::atomic<uint64_t> g_openssl_allocations{0};
void* counting_malloc(size_t n, const char*, int) {
  g_openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* counting_realloc(void* p, size_t n, const char*, int) {
  g_openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) { std::free(p); }
const bool g_counting_installed =
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

std::string hex(const uint8_t* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

std::string openssl_hmac_hex(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return hex(out, len);
}

std::string base64url(std::string_view bytes) {
  std::string out(base64url_chars(bytes.size()), '\0');
  size_t n =
      base64url_encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), out.data());
  EXPECT_EQ(n, out.size());
  return out;
}

// The signature the documentation describes, computed with OpenSSL's HMAC() directly.
std::string reference_signature(std::string_view key, std::string_view method,
                                std::string_view path, uint64_t expires) {
  std::string message =
      std::string(method) + "\n" + std::string(path) + "\n" + std::to_string(expires);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return base64url(std::string_view(reinterpret_cast<char*>(out), len));
}

std::string write_temp(const std::string& content) {
  char path[] = "/tmp/ringest-access-test-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// ---------------------------------------------------------------------------------------------
// Token file

TEST(TokenFile, SkipsCommentsAndBlankLinesAndTrims) {
  std::vector<std::string> tokens;
  std::string error;
  ASSERT_TRUE(
      parse_token_file("# operators\n\n  alpha-1  \n\t# indented comment\r\n"
                       "beta.2\r\n   \ngamma~3/+==\n\nlast-without-newline",
                       &tokens, &error))
      << error;
  EXPECT_EQ(tokens,
            (std::vector<std::string>{"alpha-1", "beta.2", "gamma~3/+==", "last-without-newline"}));
}

TEST(TokenFile, NoTokensIsAnError) {
  std::vector<std::string> tokens;
  std::string error;
  for (std::string text : {"", "\n\n", "# only a comment\n  # another\n", " \t\r\n"}) {
    error.clear();
    EXPECT_FALSE(parse_token_file(text, &tokens, &error)) << text;
    EXPECT_NE(error.find("no tokens"), std::string::npos) << error;
    EXPECT_TRUE(tokens.empty());
  }
}

TEST(TokenFile, ALineThatCannotBeATokenIsNamed) {
  std::vector<std::string> tokens;
  std::string error;
  for (std::string bad : {"good\ntok en\n", "good\ntoken # inline comment\n", "good\nab=cd\n",
                          "good\n=\n", "good\ntok\x01\n", "good\ntok\xc3\xa9\n"}) {
    error.clear();
    EXPECT_FALSE(parse_token_file(bad, &tokens, &error)) << bad;
    EXPECT_NE(error.find("line 2"), std::string::npos) << error;
    EXPECT_TRUE(tokens.empty()) << "nothing half-parsed is returned";
  }
}

TEST(TokenFile, LoadReportsAMissingFileByPath) {
  std::vector<std::string> tokens;
  std::string error;
  EXPECT_FALSE(load_token_file("/nonexistent/ringest-tokens", &tokens, &error));
  EXPECT_NE(error.find("/nonexistent/ringest-tokens"), std::string::npos) << error;
  std::string path = write_temp("# none\n");
  EXPECT_FALSE(load_token_file(path, &tokens, &error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
  std::string good = write_temp("t1\nt2\n");
  EXPECT_TRUE(load_token_file(good, &tokens, &error)) << error;
  EXPECT_EQ(tokens.size(), 2u);
  ::unlink(path.c_str());
  ::unlink(good.c_str());
}

TEST(SigningKey, TrailingNewlinesAreTrimmedAndShortKeysRefused) {
  std::string key;
  std::string error;
  ASSERT_TRUE(parse_signing_key("0123456789abcdef0123\r\n\n", &key, &error)) << error;
  EXPECT_EQ(key, "0123456789abcdef0123");
  ASSERT_TRUE(parse_signing_key(std::string("\n binary\0key 123 ", 18), &key, &error));
  EXPECT_EQ(key, std::string("\n binary\0key 123 ", 18)) << "only trailing CR/LF go";
  EXPECT_FALSE(parse_signing_key("short\n", &key, &error));
  EXPECT_NE(error.find("at least 16"), std::string::npos) << error;
  EXPECT_FALSE(parse_signing_key("", &key, &error));
}

// ---------------------------------------------------------------------------------------------
// Bearer header

TEST(BearerToken, SchemeIsCaseInsensitiveAndOtherSchemesAreNotBearer) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_EQ(bearer_token("BEARER \t abc= "), "abc=");
  EXPECT_EQ(bearer_token(""), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token("Bearer   "), "");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token("Basic dXNlcjpwYXNz"), "");
  EXPECT_EQ(bearer_token("Token abc"), "");
}

// ---------------------------------------------------------------------------------------------
// SHA-256, HMAC, base64url

TEST(Hmac, MatchesRfc4231) {
  struct Case {
    std::string key, data, mac;
  } cases[] = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
  };
  for (const Case& c : cases) {
    HmacSha256Key key(c.key);
    Digest d = key.mac({c.data});
    EXPECT_EQ(hex(d.data(), d.size()), c.mac);
    EXPECT_EQ(openssl_hmac_hex(c.key, c.data), c.mac);
  }
}

TEST(Hmac, EqualsOpenSslHmacForManyKeysAndSplitMessages) {
  for (size_t key_len : {0, 1, 16, 32, 63, 64, 65, 200}) {
    std::string key(key_len, '\0');
    for (size_t i = 0; i < key_len; ++i) key[i] = static_cast<char>(i * 37 + key_len);
    HmacSha256Key hmac(key);
    for (size_t msg_len : {0, 1, 55, 56, 64, 65, 1000}) {
      std::string msg(msg_len, 'm');
      for (size_t i = 0; i < msg_len; ++i) msg[i] = static_cast<char>(i * 11);
      size_t cut = msg_len / 3;
      Digest d =
          hmac.mac({std::string_view(msg).substr(0, cut), "", std::string_view(msg).substr(cut)});
      EXPECT_EQ(hex(d.data(), d.size()), openssl_hmac_hex(key, msg))
          << "key " << key_len << " message " << msg_len;
    }
  }
}

TEST(Sha256, KnownDigests) {
  Digest d = sha256("");
  EXPECT_EQ(hex(d.data(), d.size()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  d = sha256("abc");
  EXPECT_EQ(hex(d.data(), d.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Base64url, Rfc4648VectorsWithoutPaddingAndTheUrlAlphabet) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(kSignatureChars, 43u);
}

// ---------------------------------------------------------------------------------------------
// Signed URLs

constexpr std::string_view kKey = "a-signing-key-of-32-bytes-length";
constexpr uint64_t kNow = 1'800'000'000;

std::string query_for(std::string_view method, std::string_view path, uint64_t expires,
                      std::string_view key = kKey) {
  return "expires=" + std::to_string(expires) +
         "&signature=" + reference_signature(key, method, path, expires);
}

SignatureStatus check(std::string_view method, std::string_view path, std::string_view query,
                      uint64_t now = kNow, bool any_upload_method = false) {
  static const HmacSha256Key key(kKey);
  return check_signature(key, method, path, query, now, any_upload_method).status;
}

TEST(SignedUrl, FormatMatchesTheDocumentedConstruction) {
  access::HmacSha256Key key(kKey);
  EXPECT_EQ(signed_query(key, "POST", "/files/", kNow + 60),
            query_for("POST", "/files/", kNow + 60));
  EXPECT_EQ(signed_query(key, "*", "/files/0123", 7), query_for("*", "/files/0123", 7));
  char small[20];
  EXPECT_EQ(format_signed_query(key, "POST", "/files/", kNow, small, sizeof small), 0u);
}

TEST(SignedUrl, ValidUntilAndIncludingItsExpiry) {
  std::string q = query_for("POST", "/files/", kNow + 10);
  EXPECT_EQ(check("POST", "/files/", q), SignatureStatus::kValid);
  EXPECT_EQ(check("POST", "/files/", q, kNow + 10), SignatureStatus::kValid);
  EXPECT_EQ(check("POST", "/files/", q, kNow + 11), SignatureStatus::kExpired);
  access::HmacSha256Key key(kKey);
  SignatureCheck sc = check_signature(key, "POST", "/files/", q, kNow, false);
  EXPECT_EQ(sc.expires, kNow + 10);
}

TEST(SignedUrl, WrongKeyMethodOrPathIsWrong) {
  std::string q = query_for("POST", "/files/", kNow + 10);
  EXPECT_EQ(check("PATCH", "/files/", q), SignatureStatus::kWrong) << "tampered method";
  EXPECT_EQ(check("post", "/files/", q), SignatureStatus::kWrong) << "methods are upper case";
  EXPECT_EQ(check("POST", "/files", q), SignatureStatus::kWrong) << "tampered path";
  EXPECT_EQ(check("POST", "/files/x", q), SignatureStatus::kWrong);
  EXPECT_EQ(check("POST", "/files/",
                  query_for("POST", "/files/", kNow + 10, "another-key-another-key-another!")),
            SignatureStatus::kWrong);
  // Tampered expiry: the signature no longer matches, even though the new time is later.
  std::string later = q;
  later.replace(later.find(std::to_string(kNow + 10)), 10, std::to_string(kNow + 99));
  EXPECT_EQ(check("POST", "/files/", later), SignatureStatus::kWrong);
  // An expired URL with a wrong signature is wrong, not expired.
  EXPECT_EQ(check("PATCH", "/files/", q, kNow + 100), SignatureStatus::kWrong);
  // One flipped signature character.
  std::string flipped = q;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(check("POST", "/files/", flipped), SignatureStatus::kWrong);
}

TEST(SignedUrl, StarCoversUploadMethodsOnlyWhenTheCallerAllowsIt) {
  std::string path = "/files/0123456789abcdef0123456789abcdef";
  std::string star = query_for("*", path, kNow + 10);
  for (std::string_view m : {"HEAD", "GET", "PATCH", "DELETE"}) {
    EXPECT_EQ(check(m, path, star, kNow, true), SignatureStatus::kValid) << m;
    EXPECT_EQ(check(m, path, star, kNow, false), SignatureStatus::kWrong) << m;
  }
  EXPECT_EQ(check("*", path, star), SignatureStatus::kValid) << "a literal '*' method";
  EXPECT_EQ(check("PATCH", path + "0", star, kNow, true), SignatureStatus::kWrong);
  // A method-specific signature still works where "*" is allowed.
  EXPECT_EQ(check("HEAD", path, query_for("HEAD", path, kNow + 10), kNow, true),
            SignatureStatus::kValid);
  EXPECT_EQ(check("PATCH", path, query_for("HEAD", path, kNow + 10), kNow, true),
            SignatureStatus::kWrong);
}

TEST(SignedUrl, AbsentMalformedAndExtraParameters) {
  std::string sig = reference_signature(kKey, "POST", "/files/", kNow + 10);
  std::string e = "expires=" + std::to_string(kNow + 10);
  EXPECT_EQ(check("POST", "/files/", ""), SignatureStatus::kAbsent);
  EXPECT_EQ(check("POST", "/files/", "foo=bar&x"), SignatureStatus::kAbsent);
  EXPECT_EQ(check("POST", "/files/", "a=1&" + e + "&b=2&signature=" + sig + "&c"),
            SignatureStatus::kValid)
      << "other parameters are ignored";
  EXPECT_EQ(check("POST", "/files/", "signature=" + sig + "&" + e), SignatureStatus::kValid)
      << "any order";
  for (std::string bad : {
           e,                                                              // no signature
           "signature=" + sig,                                             // no expiry
           e + "&signature=" + sig + "&" + e,                              // repeated expiry
           e + "&signature=" + sig + "&signature=" + sig,                  // repeated signature
           e + "&signature=" + sig + "=",                                  // padded
           e + "&signature=" + sig.substr(1),                              // short
           e + "&signature=",                                              // empty
           "expires=&signature=" + sig,                                    // empty expiry
           "expires=0" + std::to_string(kNow + 10) + "&signature=" + sig,  // leading zero
           "expires=+" + std::to_string(kNow + 10) + "&signature=" + sig,  // sign
           "expires=1e9&signature=" + sig,                                 // not decimal
           "expires=99999999999999999999&signature=" + sig,                // overflows 64 bits
           "expires=123456789012345678901&signature=" + sig,               // too many digits
           "expires&signature=" + sig,                                     // no '='
       }) {
    EXPECT_EQ(check("POST", "/files/", bad), SignatureStatus::kMalformed) << bad;
  }
  // A percent-encoded signature is not decoded: it is simply not the signature.
  std::string encoded = sig;
  encoded.replace(0, 1, "%41");
  EXPECT_NE(check("POST", "/files/", e + "&signature=" + encoded), SignatureStatus::kValid);
}

// ---------------------------------------------------------------------------------------------
// Constant-time comparison and allocation

TEST(ConstantTime, ComparisonsGoThroughCryptoMemcmp) {
  // equal_constant_time is CRYPTO_memcmp's verdict; both callers use it (token_set.cc and
  // signed_url.cc call nothing else to compare secrets, which review of those files shows).
  const char a[] = "0123456789abcdef";
  const char b[] = "0123456789abcdeX";
  EXPECT_TRUE(equal_constant_time(a, a, 16));
  EXPECT_FALSE(equal_constant_time(a, b, 16));
  EXPECT_EQ(equal_constant_time(a, b, 15), CRYPTO_memcmp(a, b, 15) == 0);
}

TEST(Allocation, TokenAndSignatureChecksDoNotMakeOpenSslAllocate) {
  ASSERT_TRUE(g_counting_installed) << "OpenSSL allocated before the test could count";
  access::HmacSha256Key key(kKey);
  TokenRegistry registry;
  registry.publish(std::make_unique<TokenSet>(std::vector<std::string>{"t1", "t2", "t3"}));
  std::string path = "/files/0123456789abcdef0123456789abcdef";
  std::string q = query_for("*", path, kNow + 10);
  EXPECT_TRUE(registry.contains("t2"));  // warm-up: this thread's hazard slot
  uint64_t before = g_openssl_allocations.load();
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(registry.contains("t3"));
    EXPECT_FALSE(registry.contains("nope"));
    EXPECT_EQ(check_signature(key, "PATCH", path, q, kNow, true).status, SignatureStatus::kValid);
    EXPECT_EQ(check_signature(key, "PATCH", path, q, kNow, false).status, SignatureStatus::kWrong);
  }
  EXPECT_EQ(g_openssl_allocations.load() - before, 0u);
  // The counter does count: OpenSSL's one-shot HMAC() allocates.
  openssl_hmac_hex("k", "m");
  EXPECT_GT(g_openssl_allocations.load() - before, 0u);
}

// ---------------------------------------------------------------------------------------------
// Token sets and their replacement

TEST(TokenSet, ContainsExactlyItsTokens) {
  TokenSet set({"alpha", "beta", "gamma=="});
  EXPECT_TRUE(set.contains("alpha"));
  EXPECT_TRUE(set.contains("gamma=="));
  EXPECT_FALSE(set.contains("gamma="));
  EXPECT_FALSE(set.contains("alph"));
  EXPECT_FALSE(set.contains("alphaa"));
  EXPECT_FALSE(set.contains(""));
  EXPECT_EQ(set.size(), 3u);
}

TEST(TokenRegistry, EmptyUntilPublishedThenReplaced) {
  TokenRegistry registry;
  EXPECT_FALSE(registry.contains("a"));
  EXPECT_EQ(registry.size(), 0u);
  registry.publish(std::make_unique<TokenSet>(std::vector<std::string>{"a"}));
  EXPECT_TRUE(registry.contains("a"));
  registry.publish(std::make_unique<TokenSet>(std::vector<std::string>{"b", "c"}));
  EXPECT_FALSE(registry.contains("a"));
  EXPECT_TRUE(registry.contains("b"));
  EXPECT_EQ(registry.size(), 2u);
}

// Readers on four threads check tokens while the main thread replaces the set 1000 times: every
// answer is one a published set would give, and (under AddressSanitizer) no reader ever
// touches a freed set.
TEST(TokenRegistry, ReplacementWhileReadersRunIsSafe) {
  TokenRegistry registry;
  registry.publish(std::make_unique<TokenSet>(std::vector<std::string>{"always", "gen-0"}));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> checks{0};
  std::atomic<uint64_t> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (!registry.contains("always")) wrong.fetch_add(1);
        if (registry.contains("never")) wrong.fetch_add(1);
        checks.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  while (checks.load() < 1000) std::this_thread::yield();  // every reader is running
  uint64_t checks_before = checks.load();
  for (int gen = 1; gen <= 1000; ++gen) {
    registry.publish(std::make_unique<TokenSet>(
        std::vector<std::string>{"always", "gen-" + std::to_string(gen)}));
  }
  uint64_t checks_during = checks.load() - checks_before;
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(checks_during, 0u) << "readers ran while sets were replaced";
  EXPECT_TRUE(registry.contains("gen-1000"));
  EXPECT_FALSE(registry.contains("gen-999"));
}

TEST(TokenRegistry, AThreadsHazardSlotIsReleasedWhenItExits) {
  TokenRegistry registry;
  registry.publish(std::make_unique<TokenSet>(std::vector<std::string>{"x"}));
  EXPECT_TRUE(registry.contains("x"));  // this thread's slot, if it had none yet
  size_t before = hazard_slots_in_use();
  for (int i = 0; i < 50; ++i) {
    std::thread([&] { EXPECT_TRUE(registry.contains("x")); }).join();
  }
  EXPECT_EQ(hazard_slots_in_use(), before);
}

}  // namespace
}  // namespace ringest::access

// ---------------------------------------------------------------------------------------------
// The policy: flags, verdicts, CORS headers, Location

namespace ringest::http {
namespace {

using access::SignatureStatus;

constexpr uint64_t kNow = 1'800'000'000;
const std::string kPath = "/files/0123456789abcdef0123456789abcdef";

ParseOutcome parse(std::vector<const char*> args) {
  std::vector<const char*> argv = {"ringestd", "--listen", "127.0.0.1:0", "--data-dir", "/tmp/x"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_args(static_cast<int>(argv.size()), argv.data());
}

TEST(AccessFlags, ParsedAndOffByDefault) {
  ParseOutcome out = parse({});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_FALSE(AccessPolicy::configured(out.config));
  out =
      parse({"--auth-token-file", "/etc/t", "--signing-key-file=/etc/k", "--cors-origin",
             "https://a.example", "--cors-origin", "http://localhost:3000", "--cors-origin", "*"});
  ASSERT_EQ(out.kind, ParseOutcome::Kind::kRun) << out.error;
  EXPECT_EQ(out.config.auth_token_file, "/etc/t");
  EXPECT_EQ(out.config.signing_key_file, "/etc/k");
  EXPECT_EQ(out.config.cors_origins,
            (std::vector<std::string>{"https://a.example", "http://localhost:3000", "*"}));
  EXPECT_TRUE(AccessPolicy::configured(out.config));
}

TEST(AccessFlags, BadOriginsAndEmptyPathsAreUsageErrors) {
  for (const char* origin : {"https://a.example/", "a.example", "https://", "ftp://a.example",
                             "https://a.example/path", "https://a b", "null", ""}) {
    ParseOutcome out = parse({"--cors-origin", origin});
    EXPECT_EQ(out.kind, ParseOutcome::Kind::kError) << origin;
    EXPECT_NE(out.error.find("--cors-origin"), std::string::npos) << out.error;
  }
  EXPECT_EQ(parse({"--auth-token-file", ""}).kind, ParseOutcome::Kind::kError);
  EXPECT_EQ(parse({"--signing-key-file", ""}).kind, ParseOutcome::Kind::kError);
  EXPECT_EQ(parse({"--auth-token-file"}).kind, ParseOutcome::Kind::kError);
}

class Policy : public ::testing::Test {
 protected:
  void SetUp() override {
    token_path_ = access::write_temp("# ops\ngood-token\nsecond\n");
    key_path_ = access::write_temp(std::string(kKey) + "\n");
  }
  void TearDown() override {
    ::unlink(token_path_.c_str());
    ::unlink(key_path_.c_str());
  }
  void load(bool tokens, bool signing, std::vector<std::string> origins) {
    Config c;
    if (tokens) c.auth_token_file = token_path_;
    if (signing) c.signing_key_file = key_path_;
    c.cors_origins = std::move(origins);
    std::string error;
    ASSERT_TRUE(policy_.load(c, &error)) << error;
  }
  Verdict check(RequestFacts f) { return policy_.check(f, kNow, &state_); }
  static RequestFacts facts(std::string_view method, std::string_view path,
                            std::string_view query = {}, std::string_view authorization = {}) {
    RequestFacts f;
    f.method = method;
    f.options = method == "OPTIONS";
    f.path = path;
    f.query = query;
    f.authorization = authorization;
    f.upload_url = path.size() > 7 &&
                   (method == "HEAD" || method == "GET" || method == "PATCH" || method == "DELETE");
    f.exempt = path == "/healthz";
    return f;
  }
  std::string headers(const RequestAccess& state) {
    char buf[4096];
    ResponseBuilder rb(buf, sizeof buf);
    rb.status(204);
    size_t start = rb.size();
    policy_.add_response_headers(rb, state);
    EXPECT_TRUE(rb.ok());
    return std::string(buf + start, rb.size() - start);
  }
  static constexpr std::string_view kKey = "policy-test-signing-key-32-bytes";

  std::string token_path_;
  std::string key_path_;
  AccessPolicy policy_;
  RequestAccess state_;
};

TEST_F(Policy, MissingFilesAndEmptyTokenFilesAreRefusedAtLoad) {
  Config c;
  c.auth_token_file = "/nonexistent/tokens";
  std::string error;
  AccessPolicy p1;
  EXPECT_FALSE(p1.load(c, &error));
  EXPECT_NE(error.find("--auth-token-file"), std::string::npos) << error;
  std::string empty = access::write_temp("# nothing yet\n");
  c.auth_token_file = empty;
  AccessPolicy p2;
  EXPECT_FALSE(p2.load(c, &error));
  EXPECT_NE(error.find("no tokens"), std::string::npos) << error;
  c.auth_token_file.clear();
  c.signing_key_file = empty;  // 14 bytes: too short for a key
  AccessPolicy p3;
  EXPECT_FALSE(p3.load(c, &error));
  EXPECT_NE(error.find("--signing-key-file"), std::string::npos) << error;
  ::unlink(empty.c_str());
}

TEST_F(Policy, TokensOnly) {
  load(true, false, {});
  EXPECT_EQ(check(facts("POST", "/files/")), Verdict::kNoCredentials);
  EXPECT_EQ(check(facts("POST", "/files/", {}, "Basic abc")), Verdict::kNoCredentials);
  EXPECT_EQ(check(facts("POST", "/files/", {}, "Bearer wrong")), Verdict::kTokenRefused);
  EXPECT_EQ(check(facts("POST", "/files/", {}, "Bearer good-token")), Verdict::kAllow);
  EXPECT_FALSE(state_.by_signature);
  for (std::string_view m : {"HEAD", "GET", "PATCH", "DELETE", "OPTIONS"}) {
    EXPECT_EQ(check(facts(m, kPath)), Verdict::kNoCredentials) << m;
    EXPECT_EQ(check(facts(m, kPath, {}, "bearer second")), Verdict::kAllow) << m;
  }
  EXPECT_EQ(check(facts("GET", "/metrics")), Verdict::kNoCredentials);
  EXPECT_EQ(check(facts("GET", "/healthz")), Verdict::kAllow);
  // Signatures mean nothing without a key.
  access::HmacSha256Key key(kKey);
  std::string q = access::signed_query(key, "POST", "/files/", kNow + 10);
  EXPECT_EQ(check(facts("POST", "/files/", q)), Verdict::kNoCredentials);
  EXPECT_EQ(policy_.challenge(), "Bearer realm=\"ringest\"");
}

TEST_F(Policy, SignaturesOnlyAndTheSignedLocation) {
  load(false, true, {});
  access::HmacSha256Key key(kKey);
  EXPECT_EQ(check(facts("POST", "/files/")), Verdict::kNoCredentials);
  EXPECT_EQ(check(facts("POST", "/files/", {}, "Bearer good-token")), Verdict::kNoCredentials)
      << "no tokens configured";
  EXPECT_EQ(policy_.challenge(), "");
  std::string q = access::signed_query(key, "POST", "/files/", kNow + 10);
  EXPECT_EQ(check(facts("POST", "/files/", q)), Verdict::kAllow);
  EXPECT_TRUE(state_.by_signature);
  EXPECT_EQ(state_.expires, kNow + 10);
  EXPECT_EQ(check(facts("PATCH", "/files/", q)), Verdict::kSignatureWrong);
  EXPECT_EQ(check(facts("POST", "/files/", "expires=1")), Verdict::kSignatureWrong);
  EXPECT_EQ(policy_.check(facts("POST", "/files/", q), kNow + 11, &state_),
            Verdict::kSignatureExpired);

  // The Location of an upload created by that request: signed with "*", same expiry.
  ASSERT_EQ(check(facts("POST", "/files/", q)), Verdict::kAllow);
  char out[kMaxLocationBytes];
  std::string location(format_upload_location(&policy_, "/files/",
                                              "0123456789abcdef0123456789abcdef", &state_, out,
                                              sizeof out));
  EXPECT_EQ(location, kPath + "?" + access::signed_query(key, "*", kPath, kNow + 10));
  std::string lq = location.substr(location.find('?') + 1);
  for (std::string_view m : {"HEAD", "GET", "PATCH", "DELETE"}) {
    EXPECT_EQ(check(facts(m, kPath, lq)), Verdict::kAllow) << m;
  }
  EXPECT_EQ(check(facts("POST", kPath, lq)), Verdict::kSignatureWrong);
  EXPECT_EQ(check(facts("PATCH", kPath + "0", lq)), Verdict::kSignatureWrong);
  EXPECT_EQ(check(facts("POST", "/files/", lq)), Verdict::kSignatureWrong);
  // Not by signature: a plain Location.
  RequestAccess plain;
  EXPECT_EQ(format_upload_location(&policy_, "/files/", "abc", &plain, out, sizeof out),
            "/files/abc");
  EXPECT_EQ(format_upload_location(nullptr, "/files/", "abc", &state_, out, sizeof out),
            "/files/abc");
}

TEST_F(Policy, EitherATokenOrASignatureAuthorizes) {
  load(true, true, {});
  access::HmacSha256Key key(kKey);
  std::string q = access::signed_query(key, "POST", "/files/", kNow + 10);
  std::string expired = access::signed_query(key, "POST", "/files/", kNow - 1);
  EXPECT_EQ(check(facts("POST", "/files/", q, "Bearer good-token")), Verdict::kAllow);
  EXPECT_FALSE(state_.by_signature) << "a valid token wins: Location stays unsigned";
  EXPECT_EQ(check(facts("POST", "/files/", q, "Bearer wrong")), Verdict::kAllow);
  EXPECT_TRUE(state_.by_signature);
  EXPECT_EQ(check(facts("POST", "/files/", expired, "Bearer good-token")), Verdict::kAllow);
  EXPECT_EQ(check(facts("POST", "/files/", expired)), Verdict::kSignatureExpired);
  EXPECT_EQ(check(facts("POST", "/files/", expired, "Bearer wrong")), Verdict::kSignatureExpired);
  EXPECT_EQ(check(facts("POST", "/files/", {}, "Bearer wrong")), Verdict::kTokenRefused);
  EXPECT_EQ(check(facts("POST", "/files/")), Verdict::kNoCredentials);
}

TEST_F(Policy, ReloadReplacesTokensAndAFailedReloadKeepsThem) {
  load(true, false, {});
  size_t count = 0;
  std::string error;
  std::ofstream(token_path_) << "fresh\n";
  ASSERT_TRUE(policy_.reload_tokens(&count, &error)) << error;
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(check(facts("HEAD", kPath, {}, "Bearer fresh")), Verdict::kAllow);
  EXPECT_EQ(check(facts("HEAD", kPath, {}, "Bearer good-token")), Verdict::kTokenRefused);
  std::ofstream(token_path_) << "# emptied by mistake\n";
  EXPECT_FALSE(policy_.reload_tokens(&count, &error));
  EXPECT_NE(error.find("no tokens"), std::string::npos) << error;
  EXPECT_EQ(check(facts("HEAD", kPath, {}, "Bearer fresh")), Verdict::kAllow);
  ::unlink(token_path_.c_str());
  EXPECT_FALSE(policy_.reload_tokens(&count, &error));
  EXPECT_EQ(check(facts("HEAD", kPath, {}, "Bearer fresh")), Verdict::kAllow);
}

TEST_F(Policy, CorsPreflightAndResponseHeaders) {
  load(true, false, {"https://app.example", "http://localhost:3000"});
  RequestFacts pre = facts("OPTIONS", "/files/");
  pre.origin = "https://app.example";
  pre.has_preflight_method = true;
  EXPECT_EQ(check(pre), Verdict::kPreflight) << "no credentials needed";
  std::string h = headers(state_);
  EXPECT_NE(h.find("Access-Control-Allow-Origin: https://app.example\r\n"), std::string::npos);
  EXPECT_NE(h.find("Access-Control-Allow-Methods: POST, PUT, GET, HEAD, PATCH, DELETE, OPTIONS\r\n"),
            std::string::npos);
  EXPECT_NE(h.find("Access-Control-Allow-Headers: Authorization, Content-Type, Tus-Resumable"),
            std::string::npos);
  EXPECT_NE(h.find("X-HTTP-Method-Override, Range, If-Range, If-Match, If-None-Match, "
                   "Upload-Complete, Upload-Draft-Interop-Version, Upload-Name, "
                   "Content-Disposition\r\n"),
            std::string::npos);
  EXPECT_NE(h.find("Access-Control-Max-Age: "), std::string::npos);
  EXPECT_NE(h.find("Vary: Origin\r\n"), std::string::npos);

  pre.origin = "https://evil.example";
  EXPECT_EQ(check(pre), Verdict::kOriginRefused);
  h = headers(state_);
  EXPECT_EQ(h.find("Access-Control-"), std::string::npos) << h;

  // An OPTIONS without Access-Control-Request-Method is tus discovery: it needs credentials.
  RequestFacts discovery = facts("OPTIONS", "/files/");
  discovery.origin = "https://app.example";
  EXPECT_EQ(check(discovery), Verdict::kNoCredentials);
  h = headers(state_);
  EXPECT_NE(h.find("Access-Control-Allow-Origin: https://app.example\r\n"), std::string::npos)
      << "the 401 is readable by the page";
  EXPECT_NE(h.find("Access-Control-Expose-Headers: Location, Upload-Offset, Upload-Length, "
                   "Upload-Metadata, Upload-Expires, Upload-Concat, Tus-Resumable, Tus-Version, "
                   "Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Repr-Digest, ETag, "
                   "Content-Range, Content-Disposition, Accept-Ranges, Upload-Complete, "
                   "Upload-Draft-Interop-Version, Upload-Limit\r\n"),
            std::string::npos)
      << h;
  EXPECT_EQ(h.find("Access-Control-Allow-Methods"), std::string::npos);

  RequestFacts actual = facts("PATCH", kPath, {}, "Bearer good-token");
  actual.origin = "HTTP://LOCALHOST:3000";  // origins compare case-insensitively, echoed as sent
  EXPECT_EQ(check(actual), Verdict::kAllow);
  h = headers(state_);
  EXPECT_NE(h.find("Access-Control-Allow-Origin: HTTP://LOCALHOST:3000\r\n"), std::string::npos);
  actual.origin = "https://app.example.evil";
  EXPECT_EQ(check(actual), Verdict::kAllow);
  h = headers(state_);
  EXPECT_EQ(h, "Vary: Origin\r\n") << "no CORS headers for an origin not listed";
  actual.origin = {};
  EXPECT_EQ(check(actual), Verdict::kAllow);
  EXPECT_EQ(headers(state_), "Vary: Origin\r\n");
}

TEST_F(Policy, AnyOriginEchoesOnlyPlausibleOriginsAndFitsTheResponseBuffer) {
  load(false, false, {"*"});
  RequestFacts f = facts("GET", kPath);
  std::string longest = "https://" + std::string(kMaxOriginBytes - 8, 'a');
  f.origin = longest;
  EXPECT_EQ(check(f), Verdict::kAllow);
  EXPECT_EQ(state_.origin_bytes, kMaxOriginBytes);
  std::string h = headers(state_);
  EXPECT_LE(h.size(), kMaxCorsHeaderBytes);
  f.options = true;
  f.has_preflight_method = true;
  EXPECT_EQ(check(f), Verdict::kPreflight);
  h = headers(state_);
  EXPECT_LE(h.size(), kMaxCorsHeaderBytes) << "the largest preflight answer";
  f.options = false;
  f.has_preflight_method = false;
  for (std::string bad :
       {longest + "a", std::string("https://a\x01"), std::string("https://a b")}) {
    f.origin = bad;
    EXPECT_EQ(check(f), Verdict::kAllow);
    EXPECT_EQ(state_.origin_bytes, 0u) << bad;
  }
}

TEST_F(Policy, NothingConfiguredAllowsEverythingAndAddsNoHeaders) {
  load(false, false, {});
  RequestFacts f = facts("PATCH", kPath);
  f.origin = "https://app.example";
  EXPECT_EQ(check(f), Verdict::kAllow);
  EXPECT_EQ(headers(state_), "");
}

}  // namespace
}  // namespace ringest::http
