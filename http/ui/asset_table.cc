#include "http/ui/asset_table.h"

#include <openssl/sha.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace ringest::http::ui {
namespace {

constexpr std::string_view kVendorDir = "node_modules/";
// The page's own files change with the server: a browser revalidates them every time (a 304
// when unchanged). Vendor URLs carry no version, so they are cached for a day, not for ever: a
// package upgrade reaches browsers within a day (and at once after a forced reload).
constexpr std::string_view kPageCache = "no-cache";
constexpr std::string_view kVendorCache = "public, max-age=86400";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// The real path of `path`, or empty when it does not exist.
std::string real_path(const std::string& path) {
  char out[PATH_MAX];
  if (::realpath(path.c_str(), out) == nullptr) return {};
  return out;
}

// Reads a whole regular file of at most `limit` bytes.
bool read_bounded(const std::string& path, size_t limit, std::string* out, std::string* error) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *error = path + ": not a regular file";
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > limit) {
    *error = path + ": larger than " + std::to_string(limit) + " bytes";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    *error = path + ": cannot read";
    return false;
  }
  if (out->size() > limit) {  // it grew since stat()
    *error = path + ": larger than " + std::to_string(limit) + " bytes";
    return false;
  }
  return true;
}

std::string strong_etag(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int i = 0; i < 8; ++i) {
    tag += kHex[digest[i] >> 4];
    tag += kHex[digest[i] & 15];
  }
  return tag + "\"";
}

}  // namespace

std::string_view content_type_for(std::string_view name) {
  struct Type {
    std::string_view extension, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},     {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".wasm", "application/wasm"},             {".svg", "image/svg+xml"},
      {".png", "image/png"},                     {".map", "application/json"},
      {".json", "application/json"},             {".txt", "text/plain; charset=utf-8"},
  };
  for (const Type& t : kTypes) {
    if (ends_with(name, t.extension)) return t.type;
  }
  return {};
}

bool valid_url_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  for (char c : path) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok) return false;
  }
  if (path == "/") return true;
  std::string_view rest = path.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

bool AssetTable::load(const std::string& ui_dir, std::string* error) {
  assets_.clear();
  total_bytes_ = 0;
  std::string root = real_path(ui_dir);
  if (root.empty()) {
    *error = "no ui directory at " + ui_dir;
    return false;
  }
  std::string manifest;
  if (!read_bounded(root + "/" + std::string(kManifestName), kMaxManifestBytes, &manifest,
                    error)) {
    return false;
  }
  std::string_view rest = manifest;
  while (!rest.empty()) {
    size_t newline = rest.find('\n');
    std::string_view line = trim(rest.substr(0, newline));
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.empty() || line.front() == '#') continue;
    if (!load_line(root, line, error)) {
      assets_.clear();
      total_bytes_ = 0;
      return false;
    }
  }
  std::sort(assets_.begin(), assets_.end(),
            [](const Asset& a, const Asset& b) { return a.url_path < b.url_path; });
  return true;
}

// One manifest line: "<url path> <file relative to the ui directory>".
bool AssetTable::load_line(const std::string& root, std::string_view line, std::string* error) {
  size_t space = line.find_first_of(" \t");
  std::string url(line.substr(0, space));
  std::string relative(space == std::string_view::npos ? "" : trim(line.substr(space)));
  if (!valid_url_path(url) || relative.empty() || relative.front() == '/') {
    *error = std::string(kManifestName) + ": cannot use the line '" + std::string(line) + "'";
    return false;
  }
  // (not find(): the table is sorted only once every line is in)
  if (std::any_of(assets_.begin(), assets_.end(),
                  [&](const Asset& a) { return a.url_path == url; })) {
    *error = std::string(kManifestName) + ": " + url + " is listed twice";
    return false;
  }
  if (assets_.size() == kMaxAssets) {
    *error = std::string(kManifestName) + ": more than " + std::to_string(kMaxAssets) + " files";
    return false;
  }
  Asset asset;
  asset.url_path = url;
  asset.file = real_path(root + "/" + relative);
  if (asset.file.empty()) {
    *error = relative + ": missing under " + root;
    return false;
  }
  if (asset.file.compare(0, root.size() + 1, root + "/") != 0) {
    *error = relative + ": resolves to " + asset.file + ", outside " + root;
    return false;
  }
  asset.content_type = content_type_for(asset.file);
  if (asset.content_type.empty()) {
    *error = relative + ": no content type for this extension";
    return false;
  }
  if (!read_bounded(asset.file, kMaxAssetBytes, &asset.bytes, error)) return false;
  total_bytes_ += asset.bytes.size();
  if (total_bytes_ > kMaxTotalBytes) {
    *error = "the files together exceed " + std::to_string(kMaxTotalBytes) + " bytes";
    return false;
  }
  bool vendor = relative.compare(0, kVendorDir.size(), kVendorDir) == 0;
  asset.cache_control = vendor ? kVendorCache : kPageCache;
  asset.page = ends_with(asset.file, ".html");
  asset.etag = strong_etag(asset.bytes);
  assets_.push_back(std::move(asset));
  return true;
}

const Asset* AssetTable::find(std::string_view url_path) const {
  auto it = std::lower_bound(assets_.begin(), assets_.end(), url_path,
                             [](const Asset& a, std::string_view p) { return a.url_path < p; });
  if (it == assets_.end() || it->url_path != url_path) return nullptr;
  return &*it;
}

}  // namespace ringest::http::ui
