// The upload page: GET and HEAD of "/" and "/ui/..." answered from the AssetTable loaded at
// start-up (never from the file system at request time). A public route: the page itself needs
// no credentials (it asks for a token and sends it on the upload requests). The HTML page gets a
// Content-Security-Policy that allows only this server's scripts and styles (no inline script),
// WebAssembly compilation (hash-wasm), and uploads to any http(s) origin (the page may be told
// to upload to another ringestd, #endpoint=...).
#pragma once

#include "http/handler.h"
#include "http/ui/asset_table.h"

namespace ringest::http::ui {

// The policy sent with the page (see docs/architecture.md, "The upload page").
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self' http: https:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

class UiHandler final : public Handler {
 public:
  explicit UiHandler(const AssetTable* table) : table_(table) {}
  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;

 private:
  const AssetTable* table_;  // outlives the server's reactors
};

}  // namespace ringest::http::ui
