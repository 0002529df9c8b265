// AssetTable: the upload page's files (ui/), read into memory once at start-up and looked up by
// URL path afterwards. Which files exist is fixed by a manifest (ui/assets.txt): each line maps
// one URL path to one file under the ui directory (the page's own files and an explicit list of
// vendor files from ui/node_modules). Every file is resolved with realpath() and must stay inside
// the ui directory (a symlink out of it, or "..", fails the load), be a regular file, and have a
// known extension; counts and sizes are bounded. Requests are answered from this table only, so
// nothing else on disk can be reached through it, whatever the request path says.
//
// Threads: load() runs on the main thread before the reactors start; find() is const, reads
// immutable memory and runs on any reactor. The bytes live as long as the table (the server's
// lifetime), so responses can be sent straight from them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::http::ui {

inline constexpr size_t kMaxAssets = 64;
inline constexpr size_t kMaxAssetBytes = size_t{8} << 20;   // one file
inline constexpr size_t kMaxTotalBytes = size_t{32} << 20;  // all of them
inline constexpr size_t kMaxManifestBytes = 64 << 10;
inline constexpr std::string_view kManifestName = "assets.txt";

struct Asset {
  std::string url_path;            // "/", "/ui/app.js", ...
  std::string file;                // the resolved (real) path it was read from
  std::string bytes;               // the content, immutable after load()
  std::string_view content_type;   // from the extension
  std::string_view cache_control;  // page files revalidate; vendor files are cached for a day
  std::string etag;                // strong, from the content's SHA-256: "\"<16 hex>\""
  bool page = false;               // an HTML page (gets the Content-Security-Policy)

  std::span<const char> body() const { return {bytes.data(), bytes.size()}; }
};

class AssetTable {
 public:
  // Reads `ui_dir`/assets.txt and every file it names. False, with one line in `error` saying
  // which file and why, when any of them cannot be used (the table is then empty).
  bool load(const std::string& ui_dir, std::string* error);
  // The asset served at `url_path` (no query), or null.
  const Asset* find(std::string_view url_path) const;
  size_t size() const { return assets_.size(); }
  size_t total_bytes() const { return total_bytes_; }

 private:
  bool load_line(const std::string& root, std::string_view line, std::string* error);
  std::vector<Asset> assets_;  // sorted by url_path after load()
  size_t total_bytes_ = 0;
};

// The Content-Type for a file name's extension (html, js, mjs, css, wasm, svg, png, map, json,
// txt); empty for any other (such a file is refused at load time).
std::string_view content_type_for(std::string_view file_name);

// A URL path the manifest may use: starts with '/', only [A-Za-z0-9._/-], no empty, "." or
// ".." segment.
bool valid_url_path(std::string_view path);

}  // namespace ringest::http::ui
