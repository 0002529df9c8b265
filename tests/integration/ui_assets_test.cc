// Proves that the real ringestd serves the upload page from the table it loaded at start-up and
// from nothing else: "/" and the listed /ui/... files with their content types, ETag (304 on
// If-None-Match), Cache-Control, the page's Content-Security-Policy, HEAD without a body, 405 for
// other methods, 404 for anything unlisted ("..", "%2e%2e", a symlink next to the listed files);
// a manifest entry that leaves the ui directory (a symlink, "..") or is missing turns the page
// off while the server still starts, as --no-ui does; the page needs no token when uploads do;
// a body of a few MiB goes out whole on a keep-alive connection; and the bytes served are the
// ones read at start-up (a file changed afterwards is not seen).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

constexpr char kIndex[] = "<!doctype html><title>ringest</title><script src=/ui/app.js></script>\n";
constexpr char kApp[] = "console.log('app');\n";

class UiAssets : public ::testing::Test {
 protected:
  UiAssets() : ui_(dir_.path() + "/ui") {
    ::mkdir(ui_.c_str(), 0755);
    ::mkdir((ui_ + "/node_modules").c_str(), 0755);
    ::mkdir((ui_ + "/node_modules/lib").c_str(), 0755);
    write_file(ui_ + "/index.html", kIndex);
    write_file(ui_ + "/app.js", kApp);
    write_file(ui_ + "/app.css", "body{}\n");
    big_ = random_bytes(3 << 20, 7);
    write_file(ui_ + "/node_modules/lib/lib.mjs", big_);
    write_file(ui_ + "/node_modules/lib/lib.wasm", std::string("\0asm", 4));
    write_file(dir_.path() + "/secret.txt", "secret\n");  // outside the ui directory
    ::symlink((dir_.path() + "/secret.txt").c_str(), (ui_ + "/secret.txt").c_str());
    manifest_ =
        "# test\n/ index.html\n/ui/app.js app.js\n/ui/app.css   app.css\n"
        "/ui/vendor/lib.mjs node_modules/lib/lib.mjs\n/ui/vendor/lib.wasm node_modules/lib/lib.wasm\n";
    write_file(ui_ + "/assets.txt", manifest_);
  }

  void start(std::vector<std::string> extra = {}) {
    extra.push_back("--ui-dir");
    extra.push_back(ui_);
    server_ = std::make_unique<Server>(dir_.path() + "/data", extra);
    server_->start();
  }
  std::optional<Response> get(const std::string& target, const std::string& fields = {}) {
    return request(server_->port(), "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n");
  }
  std::optional<Response> method(const std::string& name, const std::string& target) {
    return request(server_->port(), name + " " + target +
                                        " HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
                   name == "HEAD");
  }
  std::string server_log() { return read_file(server_->stderr_path()); }

  TempDir dir_;
  std::string ui_;
  std::string big_;
  std::string manifest_;
  std::unique_ptr<Server> server_;
};

TEST_F(UiAssets, ServesThePageWithItsPolicyAndValidators) {
  start();
  auto r = get("/");
  ASSERT_EQ(status_of(r), 200);
  EXPECT_EQ(r->body, kIndex);
  EXPECT_EQ(r->header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r->header("cache-control"), "no-cache");
  EXPECT_EQ(r->header("x-content-type-options"), "nosniff");
  std::string csp = r->header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self' 'wasm-unsafe-eval';"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  std::string etag = r->header("etag");
  ASSERT_EQ(etag.size(), 18u) << etag;
  EXPECT_EQ(etag.front(), '"');

  auto again = get("/", "If-None-Match: \"x\", " + etag + "\r\n");
  ASSERT_EQ(status_of(again), 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(again->header("etag"), etag);
  EXPECT_EQ(status_of(get("/", "If-None-Match: W/" + etag + "\r\n")), 304);
  EXPECT_EQ(status_of(get("/", "If-None-Match: *\r\n")), 304);
  EXPECT_EQ(status_of(get("/", "If-None-Match: \"other\"\r\n")), 200);
}

TEST_F(UiAssets, ContentTypesAndCachingPerFile) {
  start();
  auto js = get("/ui/app.js");
  ASSERT_EQ(status_of(js), 200);
  EXPECT_EQ(js->body, kApp);
  EXPECT_EQ(js->header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js->header("cache-control"), "no-cache");
  EXPECT_TRUE(js->header("content-security-policy").empty());
  EXPECT_EQ(get("/ui/app.css")->header("content-type"), "text/css; charset=utf-8");
  auto wasm = get("/ui/vendor/lib.wasm");
  ASSERT_EQ(status_of(wasm), 200);
  EXPECT_EQ(wasm->header("content-type"), "application/wasm");
  EXPECT_EQ(wasm->header("cache-control"), "public, max-age=86400");
  EXPECT_EQ(wasm->body, std::string("\0asm", 4));
}

TEST_F(UiAssets, BigBodyGoesOutWholeOnAKeepAliveConnection) {
  start();
  Connection c(server_->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send_all("GET /ui/vendor/lib.mjs HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_EQ(status_of(r), 200);
    EXPECT_EQ(r->header("content-type"), "text/javascript; charset=utf-8");
    ASSERT_EQ(r->body.size(), big_.size());
    EXPECT_TRUE(r->body == big_);
  }
  ASSERT_TRUE(c.send_all("GET /ui/app.js HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto small = c.read_response();
  ASSERT_EQ(status_of(small), 200);
  EXPECT_EQ(small->body, kApp);
}

TEST_F(UiAssets, HeadHasTheFieldsAndNoBody) {
  start();
  auto r = method("HEAD", "/ui/vendor/lib.mjs");
  ASSERT_EQ(status_of(r), 200);
  EXPECT_EQ(r->header("content-length"), std::to_string(big_.size()));
  EXPECT_FALSE(r->header("etag").empty());
  EXPECT_TRUE(r->body.empty());
  // The connection is still usable: no body bytes followed the head.
  Connection c(server_->port());
  ASSERT_TRUE(c.send_all("HEAD /ui/app.js HTTP/1.1\r\nHost: t\r\n\r\n"
                         "GET /ui/app.js HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_EQ(status_of(c.read_response(true)), 200);
  auto get_after = c.read_response();
  ASSERT_EQ(status_of(get_after), 200);
  EXPECT_EQ(get_after->body, kApp);
}

TEST_F(UiAssets, OtherMethodsGet405) {
  start();
  for (const char* name : {"POST", "PUT", "DELETE", "PATCH"}) {
    auto r = method(name, "/ui/app.js");
    ASSERT_EQ(status_of(r), 405) << name;
    EXPECT_EQ(r->header("allow"), "GET, HEAD") << name;
  }
  EXPECT_EQ(status_of(method("POST", "/")), 405);
}

TEST_F(UiAssets, NothingUnlistedIsReachable) {
  start();
  for (const char* target :
       {"/ui/secret.txt", "/secret.txt", "/ui/assets.txt", "/assets.txt", "/index.html",
        "/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/%2E%2E/%2e%2e/secret.txt",
        "/ui/vendor/../app.js", "/ui/./app.js", "/ui//app.js", "/ui/app.js/", "/ui/APP.JS",
        "/ui/node_modules/lib/lib.mjs", "/ui", "/ui/", "/ui/app.js%00.png", "//"}) {
    auto r = get(target);
    ASSERT_EQ(status_of(r), 404) << target;
    EXPECT_EQ(r->body.find("secret"), std::string::npos) << target;
  }
  // The query is not part of the name: the listed file is served.
  EXPECT_EQ(get("/ui/app.js?v=1")->body, kApp);
}

TEST_F(UiAssets, ServesWhatWasReadAtStartUp) {
  start();
  std::string etag = get("/ui/app.js")->header("etag");
  write_file(ui_ + "/app.js", "changed();\n");
  auto r = get("/ui/app.js");
  EXPECT_EQ(r->body, kApp);
  EXPECT_EQ(r->header("etag"), etag);
}

TEST_F(UiAssets, NoUiTurnsThePageOff) {
  start({"--no-ui"});
  EXPECT_EQ(status_of(get("/")), 404);
  EXPECT_EQ(status_of(get("/ui/app.js")), 404);
  EXPECT_EQ(status_of(get("/healthz")), 200);
  EXPECT_NE(server_log().find("upload page: off (--no-ui)"), std::string::npos);
}

// Each bad manifest leaves the server running, the page off, and a log line naming the cause.
TEST_F(UiAssets, ABadManifestTurnsThePageOffAndSaysWhy) {
  struct Case {
    std::string manifest_line;
    std::string logged;
  };
  ::symlink((dir_.path() + "/secret.txt").c_str(), (ui_ + "/escape.js").c_str());
  const std::vector<Case> cases = {
      {"/ui/escape.js escape.js", "outside"},          // a symlink out of the directory
      {"/ui/up.txt ../secret.txt", "outside"},         // ".." out of it
      {"/ui/missing.js node_modules/nope/missing.js", "missing"},
      {"/ui/app.exe app.js.exe", "missing"},
      {"/ui/x.bin node_modules/lib/lib.mjs", "listed twice"},  // same file ok, dup url below
      {"/ui/../x.js app.js", "cannot use the line"},
      {"/ui/abs.js /etc/passwd", "cannot use the line"},
  };
  for (const Case& c : cases) {
    std::string manifest = manifest_ + c.manifest_line + "\n";
    if (c.logged == "listed twice") manifest += c.manifest_line + "\n";
    write_file(ui_ + "/assets.txt", manifest);
    start();
    EXPECT_EQ(status_of(get("/")), 404) << c.manifest_line;
    EXPECT_EQ(status_of(get("/healthz")), 200) << c.manifest_line;
    std::string log = server_log();
    EXPECT_NE(log.find("upload page: off"), std::string::npos) << log;
    EXPECT_NE(log.find(c.logged), std::string::npos) << c.manifest_line << "\n" << log;
    EXPECT_EQ(server_->stop(), 0);
  }
  // A listed file whose extension has no content type.
  ::link((ui_ + "/app.js").c_str(), (ui_ + "/app.exe").c_str());
  write_file(ui_ + "/assets.txt", manifest_ + "/ui/x.exe app.exe\n");
  start();
  EXPECT_EQ(status_of(get("/")), 404);
  EXPECT_NE(server_log().find("no content type"), std::string::npos);
}

TEST_F(UiAssets, AMissingDirectoryTurnsThePageOff) {
  server_ = std::make_unique<Server>(dir_.path() + "/data",
                                     std::vector<std::string>{"--ui-dir", dir_.path() + "/none"});
  server_->start();
  EXPECT_EQ(status_of(get("/")), 404);
  EXPECT_NE(server_log().find("upload page: off: no ui directory"), std::string::npos);
}

TEST_F(UiAssets, ThePageNeedsNoTokenWhenUploadsDo) {
  std::string tokens = dir_.path() + "/tokens";
  write_file(tokens, "sesame\n");
  start({"--auth-token-file", tokens});
  EXPECT_EQ(status_of(get("/")), 200);
  EXPECT_EQ(status_of(get("/ui/app.js")), 200);
  EXPECT_EQ(status_of(request(server_->port(), tus_create_request(10))), 401);
}

}  // namespace
}  // namespace ringest::test
