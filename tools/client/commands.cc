#include "tools/client/commands.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "http/access/credential_files.h"
#include "http/access/hmac_sha256.h"

#include "tools/client/http_client.h"
#include "tools/client/offset_log.h"
#include "tools/client/progress.h"
#include "tools/client/retry.h"
#include "tools/client/sign.h"
#include "tools/client/state_store.h"
#include "tools/client/tus_client.h"
#include "tools/client/uploader.h"

namespace ringest::client {
namespace {

StateStore open_state_store(const Options& options, Progress* progress) {
  std::string path = options.state_file.empty() ? StateStore::default_path() : options.state_file;
  if (path.empty()) {
    progress->note(
        "warning: neither XDG_STATE_HOME nor HOME is set and no --state-file given: "
        "uploads cannot resume after a restart");
  }
  return StateStore(path);
}

int status(const Options& options, TusClient* tus, Progress* progress) {
  Backoff backoff(options.retries, options.retry_delay_ms, options.max_retry_delay_ms);
  TusReply reply = with_retries([&] { return tus->head(options.url); }, &backoff, progress);
  if (reply.outcome != Outcome::kOk) return report_failure(reply, backoff, progress);
  std::string length = reply.length ? std::to_string(*reply.length) : "unknown";
  std::printf("offset %" PRIu64 " length %s\n", reply.offset, length.c_str());
  return std::fflush(stdout) == 0 ? kExitOk : kExitOther;
}

int terminate(const Options& options, TusClient* tus, StateStore* state, Progress* progress) {
  Backoff backoff(options.retries, options.retry_delay_ms, options.max_retry_delay_ms);
  bool earlier_attempt_failed = false;
  TusReply reply = with_retries(
      [&] {
        TusReply r = tus->terminate(options.url);
        if (r.outcome == Outcome::kGone && earlier_attempt_failed) {
          // The earlier DELETE reached the server but its answer was lost: the upload is gone,
          // which is what was asked.
          r.outcome = Outcome::kOk;
        }
        earlier_attempt_failed = r.outcome == Outcome::kRetryable;
        return r;
      },
      &backoff, progress);
  if (reply.outcome != Outcome::kOk) return report_failure(reply, backoff, progress);
  std::string error;
  if (!state->forget_url(options.url, &error)) progress->note("warning: " + error);
  return kExitOk;
}

int sign(const Options& options, Progress* progress) {
  std::string key;
  std::string error;
  if (!access::load_signing_key(options.signing_key_file, &key, &error)) {
    progress->error("--signing-key-file: " + error);
    return kExitOther;
  }
  access::HmacSha256Key hmac(key);
  OPENSSL_cleanse(key.data(), key.size());
  uint64_t expires = options.expires_at != 0
                         ? options.expires_at
                         : static_cast<uint64_t>(std::time(nullptr)) + options.expires_in_s;
  std::printf("%s\n", sign_url(hmac, options.url, options.sign_method, expires).c_str());
  return std::fflush(stdout) == 0 ? kExitOk : kExitOther;
}

// The bearer token from --token or the first one in --token-file; false if that cannot be read.
bool bearer_token(const Options& options, std::string* token, Progress* progress) {
  *token = options.token;
  if (options.token_file.empty()) return true;
  std::vector<std::string> tokens;
  std::string error;
  if (!access::load_token_file(options.token_file, &tokens, &error)) {
    progress->error("--token-file: " + error);
    return false;
  }
  *token = tokens.front();
  return true;
}

}  // namespace

int run_command(const Options& options) {
  Progress progress(Progress::mode_for_stderr(options.quiet));
  if (options.command == Command::kSign) return sign(options, &progress);
  std::string token;
  if (!bearer_token(options, &token, &progress)) return kExitOther;
  OffsetLog log;
  if (!options.log_offsets.empty() && !log.open(options.log_offsets)) {
    progress.error("cannot open --log-offsets file " + options.log_offsets + ": " +
                   std::strerror(errno));
    return kExitOther;
  }
  HttpClient http(options.timeout_s);
  http.set_bearer_token(token);
  TusClient tus(&http, &log);
  switch (options.command) {
    case Command::kUpload: {
      StateStore state = open_state_store(options, &progress);
      return Uploader(options, &tus, &state, &progress).run();
    }
    case Command::kStatus:
      return status(options, &tus, &progress);
    case Command::kDelete: {
      StateStore state = open_state_store(options, &progress);
      return terminate(options, &tus, &state, &progress);
    }
    case Command::kSign:
      break;  // handled above: it sends nothing
  }
  return kExitOther;
}

}  // namespace ringest::client
