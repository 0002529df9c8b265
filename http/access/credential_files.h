// The files ringestd reads its secrets from: the bearer token file (--auth-token-file) and the
// URL signing key (--signing-key-file). Parsing is pure (text in, tokens or an error out); the
// loaders add reading the file. Used by ringestd at start and on SIGHUP, and by `ringest`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringest::access {

// Token file: one token per line. Blank lines and lines whose first non-blank character is '#'
// are skipped; spaces, tabs and CR around a token are trimmed. A token must be an RFC 6750
// b64token (A-Z a-z 0-9 - . _ ~ + /, then optional trailing '='); anything else (say, an
// inline comment or an embedded space) is an error naming the line, since such a token could
// never be presented. No tokens at all is an error too: it would lock every client out.
bool parse_token_file(std::string_view text, std::vector<std::string>* tokens, std::string* error);
bool load_token_file(const std::string& path, std::vector<std::string>* tokens, std::string* error);

// Signing key file: the key is the file's bytes, with trailing CR/LF removed (so `echo` and
// editors do no harm; a binary key must not end in those bytes). At least kMinSigningKeyBytes:
// a short key makes signatures guessable offline.
inline constexpr size_t kMinSigningKeyBytes = 16;
bool parse_signing_key(std::string_view text, std::string* key, std::string* error);
bool load_signing_key(const std::string& path, std::string* key, std::string* error);

// True when `token` is a valid RFC 6750 b64token.
bool is_b64token(std::string_view token);

}  // namespace ringest::access
