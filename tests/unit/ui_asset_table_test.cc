// The upload page's table (http/ui/asset_table.h) without a server: which URL paths a manifest
// may use, the content type of each extension, and that a loaded table finds exactly its
// entries (the black-box behaviour is in tests/integration/ui_assets_test.cc).
#include "http/ui/asset_table.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ringest::http::ui {
namespace {

// A fresh directory, removed on destruction.
class Dir {
 public:
  Dir() {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/ui-table-XXXXXX";
    path_ = ::mkdtemp(pattern.data());
  }
  ~Dir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  void write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories(std::filesystem::path(path_ + "/" + name).parent_path());
    std::ofstream(path_ + "/" + name, std::ios::binary) << bytes;
  }

 private:
  std::string path_;
};

TEST(UiAssetTable, UrlPathsAreSimpleAbsolutePaths) {
  for (const char* ok : {"/", "/ui/app.js", "/ui/vendor/uppy.min.mjs", "/a-b_c.d"}) {
    EXPECT_TRUE(valid_url_path(ok)) << ok;
  }
  for (const char* bad : {"", "ui/app.js", "/ui/../x", "/ui/./x", "/..", "/ui//x", "/ui/",
                          "/ui/x?y", "/ui/%2e%2e", "/ui/a b", "/ui/\\x", "//"}) {
    EXPECT_FALSE(valid_url_path(bad)) << bad;
  }
}

TEST(UiAssetTable, ContentTypeFromTheExtension) {
  EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("a.min.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("a.wasm"), "application/wasm");
  EXPECT_EQ(content_type_for("a.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("a.png"), "image/png");
  EXPECT_EQ(content_type_for("a.js.map"), "application/json");
  EXPECT_EQ(content_type_for("a.exe"), "");
  EXPECT_EQ(content_type_for("js"), "");
}

TEST(UiAssetTable, FindsExactlyTheListedPaths) {
  Dir dir;
  dir.write("assets.txt", "# c\n\n/ index.html\r\n/ui/z.js node_modules/z.js\n/ui/a.css  a.css\n");
  dir.write("index.html", "<p>");
  dir.write("node_modules/z.js", "z");
  dir.write("a.css", "a");
  AssetTable table;
  std::string error;
  ASSERT_TRUE(table.load(dir.path(), &error)) << error;
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.total_bytes(), 5u);
  const Asset* root = table.find("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->bytes, "<p>");
  EXPECT_TRUE(root->page);
  EXPECT_EQ(root->cache_control, "no-cache");
  const Asset* vendor = table.find("/ui/z.js");
  ASSERT_NE(vendor, nullptr);
  EXPECT_FALSE(vendor->page);
  EXPECT_EQ(vendor->cache_control, "public, max-age=86400");
  EXPECT_NE(table.find("/ui/a.css"), nullptr);
  for (const char* missing : {"/index.html", "/ui/", "/ui/z.j", "/ui/z.jsx", "/assets.txt"}) {
    EXPECT_EQ(table.find(missing), nullptr) << missing;
  }
  EXPECT_NE(root->etag, vendor->etag);
}

}  // namespace
}  // namespace ringest::http::ui
