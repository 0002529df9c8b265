// Proves tus concatenation (PROTOCOLS.md a.8, TUS-CAT-01..11) on the real binary, one rule per
// test: OPTIONS advertises it; a partial upload is created (also with a body) and HEAD says
// `Upload-Concat: partial`; a final upload is created complete at once with the sum of its
// parts as its length, HEAD echoes `final;` and the parts' URLs with Upload-Offset ==
// Upload-Length, and GET returns exactly the concatenated bytes (parts of any size, a part listed
// twice, an empty part, a partial in two finals); its metadata is its own; no data file is made
// for it, and its operator manifest lists the parts' files in order. Refusals change nothing: a
// PATCH to a final (403, before its body), Upload-Length on a final, a body, an unknown id (404),
// a foreign or malformed URL, a non-partial or unfinished part (400), parts adding up past the
// maximum (413). A partial that a final lists cannot be deleted (409) until every final listing
// it is. After SIGKILL and a restart the final reads back byte-exact and its parts are still
// protected; a final whose part went missing is set aside by recovery (and comes back with it),
// and a torn manifest is rewritten. A final whose creation fails on disk leaves no file and no
// pin behind. A final's whole-file CRC-32C is its parts' combined.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

class TusConcat : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start() {
    server_ = std::make_unique<Server>(dir_.path() + "/data",
                                       std::vector<std::string>{"--max-upload-bytes", "64M"},
                                       port_);
    server_->start();
    port_ = server_->port();
  }
  void restart_after_kill() {
    server_->kill9();
    server_.reset();
    start();
  }
  std::string uploads() const { return dir_.path() + "/data/uploads/"; }

  // POST with extra header lines (each ending in \r\n) and an optional body.
  std::optional<Response> post(const std::string& headers, const std::string& body = "") {
    std::string text = "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n" + headers;
    if (!body.empty()) {
      text += "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n";
    }
    return request(port_, text + "\r\n" + body);
  }
  // A partial upload holding `data` (uploaded with PATCH unless `with_body`).
  std::string partial(const std::string& data, const std::string& metadata = {},
                      bool with_body = false) {
    std::string headers =
        "Upload-Concat: partial\r\nUpload-Length: " + std::to_string(data.size()) + "\r\n";
    if (!metadata.empty()) headers += "Upload-Metadata: " + metadata + "\r\n";
    auto r = post(headers, with_body ? data : "");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    if (!r || r->status != 201) return {};
    std::string location = r->header("location");
    if (!with_body && !data.empty()) {
      auto p = tus_patch(port_, location, 0, data);
      EXPECT_EQ(status_of(p), 204);
    }
    return location;
  }
  std::optional<Response> final_post(const std::string& urls, const std::string& extra = {}) {
    return post("Upload-Concat: final;" + urls + "\r\n" + extra);
  }
  std::string final_of(const std::string& urls, const std::string& extra = {}) {
    auto r = final_post(urls, extra);
    EXPECT_TRUE(r && r->status == 201) << (r ? std::to_string(r->status) + " " + r->body : "none");
    if (!r || r->status != 201) return {};
    return r->header("location");
  }
  std::string get(const std::string& location, int* status = nullptr) {
    auto r = request(port_, "GET " + location + " HTTP/1.1\r\nHost: t\r\n\r\n");
    if (status != nullptr) *status = status_of(r);
    return r && r->status == 200 ? r->body : std::string();
  }
  std::optional<Response> del(const std::string& location) {
    return request(port_, "DELETE " + location +
                              " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  }
  std::string absolute(const std::string& location) {
    return "http://127.0.0.1:" + std::to_string(port_) + location;
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(TusConcat, OptionsAdvertisesConcatenation) {
  auto r = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("tus-extension"),
            "creation,creation-with-upload,creation-defer-length,termination,checksum,"
            "checksum-trailer,concatenation,expiration");  // (expiry is on by default)
}

// A final's whole-file CRC-32C is combined from its parts' (no byte read back): its HEAD and GET
// say the CRC-32C of the concatenation, parts listed twice and an empty one included, also
// after a restart (recomputed from the parts' records). Spliced parts carry no CRC, so neither
// does a final of them.
TEST_F(TusConcat, AFinalsDigestIsTheCrcOfTheConcatenation) {
  std::string a = random_bytes(300001, 21), b = random_bytes(70000, 22);
  std::string la = partial(a), lb = partial(b), le = partial("");
  std::string fin = final_of(la + " " + lb + " " + le + " " + la);
  ASSERT_FALSE(fin.empty());
  std::string all = a + b + a;
  auto expect_digest = [&](const char* when) {
    auto h = tus_head(port_, fin);
    ASSERT_TRUE(h) << when;
    ASSERT_EQ(h->header("upload-offset"), std::to_string(all.size())) << when;
    auto g = request(port_, "GET " + fin + " HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(g) << when;
    EXPECT_EQ(g->body, all) << when;
    if (test_io_mode_is("splice")) {
      EXPECT_EQ(h->header("repr-digest"), "") << when;
    } else {
      EXPECT_EQ(h->header("repr-digest"), repr_digest_crc32c(bitwise_crc32c(all))) << when;
      EXPECT_EQ(g->header("repr-digest"), h->header("repr-digest")) << when;
    }
  };
  expect_digest("after creation");
  restart_after_kill();
  expect_digest("after a restart");
}

TEST_F(TusConcat, PartialIsCreatedAndHeadSaysPartial) {
  auto r = post("Upload-Concat: partial\r\nUpload-Length: 5\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  std::string loc = r->header("location");
  auto h = tus_head(port_, loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-concat"), "partial");
  EXPECT_EQ(h->header("upload-offset"), "0");
  EXPECT_EQ(h->header("upload-length"), "5");
  // A partial is an ordinary upload otherwise: PATCH, GET.
  ASSERT_EQ(status_of(tus_patch(port_, loc, 0, "hello")), 204);
  EXPECT_EQ(get(loc), "hello");
  // On disk: header version 3 with the partial flag (docs/storage-format.md).
  std::string rec = read_file(uploads() + id_of(loc) + ".rec");
  ASSERT_GE(rec.size(), 1088u);
  EXPECT_EQ(rec[1024 + 4], 3);
  EXPECT_EQ(rec[1024 + 7], 2);
  // And with creation-with-upload.
  std::string with_body = partial("abc", {}, true);
  EXPECT_EQ(head_offset(port_, with_body), 3u);
  // A plain upload says nothing about concatenation.
  std::string plain = tus_create(port_, 3);
  h = tus_head(port_, plain);
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->headers.count("upload-concat"));
}

TEST_F(TusConcat, FinalIsCompleteAtOnceWithTheSumAndReadsBackExactly) {
  // Sizes around the pool slot (256 KiB) and the 4 KiB block, none aligned.
  std::vector<std::string> data = {random_bytes(300001, 1), random_bytes(1, 2),
                                   random_bytes((2 << 20) + 7, 3), random_bytes(4095, 4)};
  std::vector<std::string> locs;
  std::string whole;
  for (const std::string& d : data) {
    locs.push_back(partial(d));
    whole += d;
  }
  ASSERT_FALSE(locs.back().empty());
  // Relative and absolute URLs, several spaces between.
  std::string urls = locs[0] + " " + absolute(locs[1]) + "   " + locs[2] + " " + absolute(locs[3]);
  auto r = final_post(urls);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  std::string fin = r->header("location");
  EXPECT_EQ(r->header("upload-offset"), std::to_string(whole.size()));
  auto h = tus_head(port_, fin);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-length"), std::to_string(whole.size()));
  EXPECT_EQ(h->header("upload-offset"), std::to_string(whole.size()));
  EXPECT_EQ(h->header("upload-concat"),
            "final;" + locs[0] + " " + locs[1] + " " + locs[2] + " " + locs[3]);
  EXPECT_EQ(h->header("cache-control"), "no-store");
  std::string got = get(fin);
  EXPECT_EQ(got.size(), whole.size());
  EXPECT_EQ(sha256_hex(got), sha256_hex(whole));

  // No data file of its own; the operator's manifest lists the parts' files, in order.
  struct stat st {};
  EXPECT_NE(stat((uploads() + id_of(fin) + ".bin").c_str(), &st), 0);
  std::string manifest = read_file(uploads() + id_of(fin) + ".parts");
  std::string expected_manifest;
  std::string through_manifest;
  char real[4096];
  ASSERT_NE(realpath(uploads().c_str(), real), nullptr);
  for (const std::string& loc : locs) {
    expected_manifest += std::string(real) + "/" + id_of(loc) + ".bin\n";
    through_manifest += read_file(uploads() + id_of(loc) + ".bin");
  }
  EXPECT_EQ(manifest, expected_manifest);
  EXPECT_EQ(sha256_hex(through_manifest), sha256_hex(whole));
  // The record: header version 3, final flag, four parts.
  std::string rec = read_file(uploads() + id_of(fin) + ".rec");
  ASSERT_GE(rec.size(), 1088u);
  EXPECT_EQ(rec[1024 + 4], 3);
  EXPECT_EQ(rec[1024 + 7], 4);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 5u);
}

TEST_F(TusConcat, PartListedTwiceEmptyPartAndAPartialInTwoFinals) {
  std::string a = random_bytes(70000, 11);
  std::string b = random_bytes(5, 12);
  std::string la = partial(a);
  std::string lb = partial(b);
  std::string le = partial("");
  ASSERT_FALSE(le.empty());
  std::string f1 = final_of(la + " " + le + " " + lb + " " + la);
  std::string f2 = final_of(lb + " " + la);
  std::string only_empty = final_of(le);
  ASSERT_FALSE(only_empty.empty());
  EXPECT_EQ(sha256_hex(get(f1)), sha256_hex(a + b + a));
  EXPECT_EQ(sha256_hex(get(f2)), sha256_hex(b + a));
  int status = 0;
  EXPECT_EQ(get(only_empty, &status), "");
  EXPECT_EQ(status, 200);
  auto h = tus_head(port_, only_empty);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("upload-length"), "0");
  EXPECT_EQ(h->header("upload-offset"), "0");
  // The partials are unchanged and still readable on their own.
  EXPECT_EQ(get(la), a);
  EXPECT_EQ(get(lb), b);
}

TEST_F(TusConcat, PatchToAFinalIs403BeforeItsBodyAndChangesNothing) {
  std::string a = random_bytes(1000, 21);
  std::string la = partial(a);
  std::string fin = final_of(la);
  ASSERT_FALSE(fin.empty());
  // A large declared body: the answer comes at the head, the body is never read.
  Connection c(port_);
  ASSERT_TRUE(c.send_all(patch_head(fin, 1000, 50 << 20)));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  for (uint64_t offset : {0, 1000}) {
    EXPECT_EQ(status_of(tus_patch(port_, fin, offset, "xyz")), 403);
  }
  EXPECT_EQ(head_offset(port_, fin), 1000u);
  EXPECT_EQ(head_offset(port_, la), 1000u);
  EXPECT_EQ(get(fin), a);
  EXPECT_EQ(get(la), a);
}

TEST_F(TusConcat, FinalRefusalsAreClearAndCreateNothing) {
  std::string done = partial("abc");
  std::string half = post("Upload-Concat: partial\r\nUpload-Length: 10\r\n")->header("location");
  ASSERT_EQ(status_of(tus_patch(port_, half, 0, "12345")), 204);
  std::string plain = tus_create(port_, 2);
  ASSERT_EQ(status_of(tus_patch(port_, plain, 0, "pl")), 204);
  const std::string unknown = "/files/0123456789abcdef0123456789abcdef";
  const uint64_t before = metric(port_, "ringest_uploads");

  struct Case {
    std::string urls;
    std::string extra;
    int status;
  };
  const std::string id = id_of(done);
  const std::vector<Case> cases = {
      {done, "Upload-Length: 3\r\n", 400},        // a final has no Upload-Length
      {done, "Upload-Defer-Length: 1\r\n", 400},  // nor a deferred one
      {unknown, "", 404},                         // TUS-CAT-11: unknown
      {done + " " + unknown, "", 404},
      {"/other/" + id, "", 400},  // foreign: not under this server's tus path
      {"http://elsewhere.example/uploads/" + id, "", 400},
      {"/files/" + id + "/x", "", 400},  // malformed
      {"/files/nope", "", 400},
      {"/files/" + std::string(32, 'A'), "", 400},
      {"ftp://h/files/" + id, "", 400},
      {"//h/files/" + id, "", 400},
      {"http:///files/" + id, "", 400},
      {plain, "", 400},  // not a partial
      {half, "", 400},   // not complete (concatenation-unfinished is not offered)
      {done, "Upload-Metadata: k ###\r\n", 400},
  };
  for (const Case& c : cases) {
    auto r = final_post(c.urls, c.extra);
    ASSERT_TRUE(r) << c.urls;
    EXPECT_EQ(r->status, c.status) << c.urls << " | " << c.extra << " | " << r->body;
    EXPECT_FALSE(r->headers.count("location"));
  }
  // A final with a body.
  auto r = post("Upload-Concat: final;" + done + "\r\n", "xyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(metric(port_, "ringest_uploads"), before);
  // Nothing was pinned by the refusals: the complete partial can still be deleted.
  EXPECT_EQ(status_of(del(done)), 204);
}

TEST_F(TusConcat, PartsAddingUpPastTheMaximumAre413) {
  server_->stop();
  server_ = std::make_unique<Server>(dir_.path() + "/data",
                                     std::vector<std::string>{"--max-upload-bytes", "100"});
  server_->start();
  port_ = server_->port();
  std::string a = partial(std::string(60, 'a'));
  std::string b = partial(std::string(40, 'b'));
  EXPECT_EQ(status_of(final_post(a + " " + b)), 201);  // exactly the maximum
  auto r = final_post(a + " " + b + " " + a);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(TusConcat, PartialsMetadataIsNotCopied) {
  std::string la = partial("ab", "filename cGFydDE=,only_partial eA==");
  std::string lb = partial("cd", "filename cGFydDI=");
  std::string fin = final_of(la + " " + lb, "Upload-Metadata: filename d2hvbGU=,kind Zg==\r\n");
  auto h = tus_head(port_, fin);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("upload-metadata"), "filename d2hvbGU=,kind Zg==");
  std::string bare = final_of(la + " " + lb);
  h = tus_head(port_, bare);
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->headers.count("upload-metadata"));
  EXPECT_EQ(h->header("upload-concat"), "final;" + la + " " + lb);
  h = tus_head(port_, la);
  EXPECT_EQ(h->header("upload-metadata"), "filename cGFydDE=,only_partial eA==");
}

TEST_F(TusConcat, APartialAFinalListsCannotBeDeletedUntilEveryFinalIs) {
  std::string a = random_bytes(9000, 31);
  std::string la = partial(a);
  std::string lb = partial("b");
  std::string f1 = final_of(la + " " + lb);
  std::string f2 = final_of(la);
  ASSERT_FALSE(f2.empty());
  auto r = del(la);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->body, "the upload is a part of a final upload: delete the final first\n");
  EXPECT_EQ(head_offset(port_, la), 9000u);
  EXPECT_EQ(get(f1), a + "b");
  // One final gone: the other still needs the partial.
  EXPECT_EQ(status_of(del(f1)), 204);
  EXPECT_EQ(status_of(tus_head(port_, f1)), 404);
  struct stat st {};
  EXPECT_NE(stat((uploads() + id_of(f1) + ".parts").c_str(), &st), 0);  // manifest gone too
  EXPECT_EQ(status_of(del(lb)), 204);  // listed by f1 only
  EXPECT_EQ(status_of(del(la)), 409);
  EXPECT_EQ(get(f2), a);
  EXPECT_EQ(status_of(del(f2)), 204);
  EXPECT_EQ(status_of(del(la)), 204);
  EXPECT_EQ(status_of(tus_head(port_, la)), 404);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u);
}

TEST_F(TusConcat, FinalSurvivesSigkillAndItsPartsStayProtected) {
  std::string a = random_bytes(333333, 41);
  std::string b = random_bytes(77777, 42);
  std::string la = partial(a);
  std::string lb = partial(b);
  std::string fin = final_of(lb + " " + la + " " + lb, "Upload-Metadata: name eHl6\r\n");
  ASSERT_FALSE(fin.empty());
  restart_after_kill();
  auto h = tus_head(port_, fin);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-length"), std::to_string(a.size() + 2 * b.size()));
  EXPECT_EQ(h->header("upload-offset"), std::to_string(a.size() + 2 * b.size()));
  EXPECT_EQ(h->header("upload-concat"), "final;" + lb + " " + la + " " + lb);
  EXPECT_EQ(h->header("upload-metadata"), "name eHl6");
  EXPECT_EQ(sha256_hex(get(fin)), sha256_hex(b + a + b));
  EXPECT_EQ(tus_head(port_, la)->header("upload-concat"), "partial");
  // The reference counts were rebuilt from the record.
  EXPECT_EQ(status_of(del(lb)), 409);
  EXPECT_EQ(status_of(tus_patch(port_, fin, 0, "x")), 403);
  EXPECT_EQ(status_of(del(fin)), 204);
  restart_after_kill();
  EXPECT_EQ(status_of(tus_head(port_, fin)), 404);
  EXPECT_EQ(status_of(del(lb)), 204);
}

TEST_F(TusConcat, RecoverySetsAsideAFinalWhosePartIsMissingAndReadmitsItWithThePart) {
  std::string a = random_bytes(5000, 51);
  std::string la = partial(a);
  std::string lb = partial("tail");
  std::string fin = final_of(la + " " + lb);
  ASSERT_FALSE(fin.empty());
  server_->stop();
  // An operator (or a disk) takes one part away.
  std::string held = dir_.path() + "/held";
  ASSERT_EQ(mkdir(held.c_str(), 0700), 0);
  for (const char* suffix : {".rec", ".bin"}) {
    std::string name = id_of(la) + suffix;
    ASSERT_EQ(rename((uploads() + name).c_str(), (held + "/" + name).c_str()), 0);
  }
  start();
  EXPECT_EQ(status_of(tus_head(port_, fin)), 404);
  std::string reason = read_file(dir_.path() + "/data/quarantine/" + id_of(fin) + ".reason");
  EXPECT_EQ(reason, "part " + id_of(la) + " is missing (or was set aside in quarantine/)\n");
  EXPECT_EQ(head_offset(port_, lb), 4u);  // the other part is untouched
  server_->stop();
  // The part comes back: so does the final.
  for (const char* suffix : {".rec", ".bin"}) {
    std::string name = id_of(la) + suffix;
    ASSERT_EQ(rename((held + "/" + name).c_str(), (uploads() + name).c_str()), 0);
  }
  start();
  EXPECT_EQ(get(fin), a + "tail");
  EXPECT_EQ(status_of(del(la)), 409);
}

TEST_F(TusConcat, RecoveryRewritesATornManifestAndRemovesAnOrphanOne) {
  std::string la = partial("0123456789");
  std::string fin = final_of(la + " " + la);
  ASSERT_FALSE(fin.empty());
  std::string path = uploads() + id_of(fin) + ".parts";
  std::string manifest = read_file(path);
  ASSERT_FALSE(manifest.empty());
  server_->kill9();
  write_file(path, manifest.substr(0, 7));  // torn
  const std::string orphan = uploads() + "0123456789abcdef0123456789abcdef.parts";
  write_file(orphan, "left by a creation that never finished\n");
  server_.reset();
  start();
  EXPECT_EQ(read_file(path), manifest);
  struct stat st {};
  EXPECT_NE(stat(orphan.c_str(), &st), 0);
  EXPECT_EQ(get(fin), "01234567890123456789");
}

TEST_F(TusConcat, FinalOfADeferredPartialOnceItsLengthIsDeclared) {
  auto r = post("Upload-Concat: partial\r\nUpload-Defer-Length: 1\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  std::string loc = r->header("location");
  EXPECT_EQ(status_of(final_post(loc)), 400);  // length unknown: not complete
  Connection c(port_);
  std::string head = patch_head(loc, 0, 4);
  head.insert(head.size() - 2, "Upload-Length: 4\r\n");
  ASSERT_TRUE(c.send_all(head + "done"));
  ASSERT_EQ(status_of(c.read_response()), 204);
  std::string fin = final_of(loc);
  EXPECT_EQ(get(fin), "done");
}

TEST_F(TusConcat, AFailedFinalCreationLeavesNothingAndPinsNothing) {
  server_->stop();
  // The third creation's files cannot be made: the final's (after two partials).
  server_ = std::make_unique<Server>(dir_.path() + "/data",
                                     std::vector<std::string>{"--fault-plan", "create:enospc@3"});
  server_->start();
  port_ = server_->port();
  std::string la = partial("abc");
  std::string lb = partial("def");
  auto r = final_post(la + " " + lb);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 2u);
  size_t records = 0;
  size_t manifests = 0;
  if (DIR* d = opendir(uploads().c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      records += name.size() > 4 && name.substr(name.size() - 4) == ".rec";
      manifests += name.size() > 6 && name.substr(name.size() - 6) == ".parts";
    }
    closedir(d);
  }
  EXPECT_EQ(records, 2u);  // the partials' only
  EXPECT_EQ(manifests, 0u);
  // The refused final pinned nothing: one partial can be deleted, the other makes a final.
  EXPECT_EQ(status_of(del(la)), 204);
  std::string fin = final_of(lb);
  EXPECT_EQ(get(fin), "def");
}

}  // namespace
}  // namespace ringest::test
