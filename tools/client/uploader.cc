#include "tools/client/uploader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tools/client/metadata.h"

namespace ringest::client {
namespace {

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

Uploader::Uploader(const Options& options, TusClient* tus, StateStore* state, Progress* progress)
    : options_(options),
      tus_(tus),
      state_(state),
      progress_(progress),
      backoff_(options.retries, options.retry_delay_ms, options.max_retry_delay_ms) {}

Uploader::~Uploader() {
  if (fd_ >= 0) ::close(fd_);
}

int Uploader::run() {
  if (int rc = open_file(); rc != kExitOk) return rc;
  progress_->note("uploading " + options_.file + " (" + std::to_string(key_.size) + " bytes) to " +
                  options_.url);
  if (int rc = resume_or_create(); rc != kExitOk) return rc;
  if (int rc = send_chunks(); rc != kExitOk) return rc;
  // The server has every byte; make sure they are the bytes of the file as it still is.
  if (int rc = check_file_unchanged(); rc != kExitOk) return rc;
  progress_->finish(offset_);
  forget();
  std::printf("%s\n", url_.c_str());
  if (std::fflush(stdout) != 0) {
    progress_->error("cannot write the upload URL to stdout: " + std::string(std::strerror(errno)));
    return kExitOther;
  }
  return kExitOk;
}

int Uploader::open_file() {
  fd_ = ::open(options_.file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    progress_->error("cannot open " + options_.file + ": " + std::strerror(errno));
    return kExitOther;
  }
  if (!S_ISREG(st.st_mode)) {
    progress_->error(options_.file + " is not a regular file");
    return kExitOther;
  }
  char resolved[PATH_MAX];
  if (::realpath(options_.file.c_str(), resolved) == nullptr) {
    progress_->error("cannot resolve " + options_.file + ": " + std::strerror(errno));
    return kExitOther;
  }
  key_ = FileKey{resolved, static_cast<uint64_t>(st.st_size), mtime_ns(st)};
  return kExitOk;
}

int Uploader::check_file_unchanged() {
  // fstat of the descriptor we read from: what matters is whether the bytes we send still are
  // the file the server was told about (Upload-Length) and the state entry was keyed by.
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    progress_->error("cannot stat " + options_.file + ": " + std::strerror(errno));
    return kExitOther;
  }
  if (static_cast<uint64_t>(st.st_size) != key_.size || mtime_ns(st) != key_.mtime_ns) {
    progress_->error(options_.file + " changed during the upload (size " +
                     std::to_string(key_.size) + " -> " + std::to_string(st.st_size) +
                     (mtime_ns(st) != key_.mtime_ns ? ", mtime changed" : "") +
                     "); not resuming it: run the upload again to send the new content");
    forget();
    return kExitFileChanged;
  }
  return kExitOk;
}

int Uploader::fail(const TusReply& reply) { return report_failure(reply, backoff_, progress_); }

void Uploader::remember() {
  std::string error;
  if (!state_->remember(key_, url_, &error)) {
    progress_->note("warning: " + error + " (this upload cannot resume after a restart)");
  }
}

void Uploader::forget() {
  std::string error;
  if (!state_->forget(key_, &error)) progress_->note("warning: " + error);
}

int Uploader::resume_or_create() {
  std::optional<std::string> remembered;
  std::string error;
  if (!state_->lookup(key_, &remembered, &error)) {
    progress_->note("warning: " + error + " (starting a new upload)");
  }
  if (!remembered) return create();

  TusReply head = with_retries([&] { return tus_->head(*remembered); }, &backoff_, progress_);
  if (head.outcome == Outcome::kGone) {
    progress_->note("remembered upload " + *remembered + " is gone (" +
                    std::to_string(head.status) + "); starting a new upload");
    forget();
    return create();
  }
  if (head.outcome != Outcome::kOk) return fail(head);
  if (head.length != key_.size || head.offset > key_.size) {
    progress_->note("remembered upload " + *remembered + " does not match the file (length " +
                    (head.length ? std::to_string(*head.length) : "unknown") + ", offset " +
                    std::to_string(head.offset) + "); starting a new upload");
    forget();
    return create();
  }
  url_ = *remembered;
  offset_ = head.offset;
  progress_->note("resuming " + url_ + " at offset " + std::to_string(offset_));
  return kExitOk;
}

int Uploader::create() {
  std::vector<std::pair<std::string, std::string>> pairs = options_.metadata;
  bool has_filename = std::any_of(pairs.begin(), pairs.end(),
                                  [](const auto& kv) { return kv.first == "filename"; });
  if (!has_filename) pairs.insert(pairs.begin(), {"filename", base_name(options_.file)});
  std::string metadata = encode_upload_metadata(pairs);

  // A POST whose answer was lost may have created an upload we never learn about; retrying
  // it leaves that one orphaned on the server, which is the price of not sending twice.
  TusReply reply = with_retries([&] { return tus_->create(options_.url, key_.size, metadata); },
                                &backoff_, progress_);
  if (reply.outcome != Outcome::kOk) return fail(reply);
  url_ = reply.location;
  // Only POSTed: a creation answer reporting bytes would be a protocol error, and the first
  // PATCH would find out (409) and re-sync anyway.
  offset_ = 0;
  remember();  // before the first PATCH, so a kill from now on resumes
  return kExitOk;
}

int Uploader::send_chunks() {
  backoff_.reset();
  progress_->start(key_.size, offset_);
  while (offset_ < key_.size) {
    if (int rc = check_file_unchanged(); rc != kExitOk) return rc;
    FileBody body{fd_, offset_, std::min(options_.chunk_bytes, key_.size - offset_)};
    uint64_t start = offset_;
    TusReply reply =
        tus_->patch(url_, body, [&](uint64_t sent) { progress_->update(start + sent); });
    if (reply.outcome == Outcome::kOk) {
      if (reply.offset > key_.size) {
        reply.outcome = Outcome::kRefused;
        reply.message += ": offset " + std::to_string(reply.offset) + " is past the length";
        return fail(reply);
      }
      if (reply.offset > offset_) {
        offset_ = reply.offset;
        backoff_.reset();  // progress: the retry budget is per outage
        progress_->update(offset_);
        continue;
      }
      // A 204 that took nothing: going on as if it were fine could loop forever.
      reply.outcome = Outcome::kRetryable;
      reply.message += ": the server took no bytes";
    }
    switch (reply.outcome) {
      case Outcome::kRetryable:
      case Outcome::kConflict:
        if (int rc = resync(reply); rc != kExitOk) return rc;
        progress_->update(offset_);
        break;
      case Outcome::kGone:         // deleted or expired under us
      case Outcome::kFileChanged:  // truncated under a chunk: the entry's key is stale
        forget();                  // either way a later run must not try to resume it
        return fail(reply);
      default:
        return fail(reply);
    }
  }
  return kExitOk;
}

int Uploader::resync(TusReply failed) {
  for (;;) {
    if (!wait_before_retry(failed, &backoff_, progress_)) return fail(failed);
    TusReply head = tus_->head(url_);
    if (head.outcome == Outcome::kOk) {
      if (head.length != key_.size || head.offset > key_.size) {
        head.outcome = Outcome::kRefused;
        head.message += ": the upload no longer matches the file (length " +
                        (head.length ? std::to_string(*head.length) : "unknown") + ")";
        return fail(head);
      }
      offset_ = head.offset;
      return kExitOk;
    }
    if (head.outcome == Outcome::kGone) forget();
    if (head.outcome != Outcome::kRetryable && head.outcome != Outcome::kConflict) {
      return fail(head);
    }
    failed = head;
  }
}

}  // namespace ringest::client
