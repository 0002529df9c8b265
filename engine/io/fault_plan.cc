#include "engine/io/fault_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ringest {

FaultPlan* g_fault_plan = nullptr;

bool FaultPlan::parse(const std::string& spec, FaultPlan* out, std::string* error) {
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string rule = spec.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (rule.empty()) continue;
    if (rule.rfind("synclog=", 0) == 0) {
      std::string path = rule.substr(8);
      out->synclog_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (out->synclog_fd_ < 0) {
        *error = "cannot open synclog " + path;
        return false;
      }
      continue;
    }
    size_t colon = rule.find(':');
    size_t at = rule.find('@');
    if (colon == std::string::npos || at == std::string::npos || at < colon) {
      *error = "fault rule '" + rule + "' is not OP:KIND@N";
      return false;
    }
    std::string op = rule.substr(0, colon);
    std::string kind = rule.substr(colon + 1, at - colon - 1);
    std::string nth = rule.substr(at + 1);
    Rule r{};
    static constexpr struct {
      const char* name;
      FaultOp op;
    } kOps[] = {{"write", FaultOp::kDataWrite},    {"sync", FaultOp::kDataSync},
                {"record-write", FaultOp::kRecordWrite}, {"record-sync", FaultOp::kRecordSync},
                {"create", FaultOp::kCreate},      {"open", FaultOp::kOpen},
                {"remove", FaultOp::kRemove},      {"read", FaultOp::kDataRead}};
    r.op = FaultOp::kNone;
    for (const auto& known : kOps) {
      if (op == known.name) r.op = known.op;
    }
    if (r.op == FaultOp::kNone) {
      *error = "unknown fault op '" + op + "'";
      return false;
    }
    r.kind = Kind::kFail;
    if (kind == "eio") {
      r.err = EIO;
    } else if (kind == "enospc") {
      r.err = ENOSPC;
    } else if (kind == "emfile") {
      r.err = EMFILE;
    } else if (kind == "short" && r.op == FaultOp::kDataWrite) {
      r.kind = Kind::kShort;
    } else if (kind.rfind("delay", 0) == 0 && kind.size() > 5 &&
               kind.find_first_not_of("0123456789", 5) == std::string::npos &&
               kind.size() <= 11) {
      r.kind = Kind::kDelay;
      r.delay_ms = static_cast<uint32_t>(std::strtoul(kind.c_str() + 5, nullptr, 10));
    } else {
      *error = "unknown fault kind '" + kind + "' for " + op;
      return false;
    }
    if (!nth.empty() && nth.back() == '+') {
      r.and_later = true;
      nth.pop_back();
    }
    char* end = nullptr;
    unsigned long long n = std::strtoull(nth.c_str(), &end, 10);
    if (nth.empty() || *end != '\0' || n == 0) {
      *error = "fault rule '" + rule + "' needs @N with N >= 1";
      return false;
    }
    r.nth = n;
    out->rules_.push_back(r);
  }
  return true;
}

int FaultPlan::at_submit(FaultOp op, uint32_t* delay_ms) {
  uint64_t count = submitted_[static_cast<int>(op)].fetch_add(1) + 1;
  int err = 0;
  for (const Rule& r : rules_) {
    if (r.op != op || !matches(r, count)) continue;
    if (r.kind == Kind::kFail) err = -r.err;
    if (r.kind == Kind::kDelay) *delay_ms = r.delay_ms;
  }
  return err;
}

bool FaultPlan::shorten(FaultOp op) {
  uint64_t count = completed_[static_cast<int>(op)].fetch_add(1) + 1;
  for (const Rule& r : rules_) {
    if (r.op == op && r.kind == Kind::kShort && matches(r, count)) return true;
  }
  return false;
}

void FaultPlan::log_commit(std::string_view id, uint64_t sequence, uint64_t offset) {
  if (synclog_fd_ < 0) return;
  char line[128];
  int n = std::snprintf(line, sizeof line, "commit %.*s %llu %llu\n",
                        static_cast<int>(id.size()), id.data(),
                        static_cast<unsigned long long>(sequence),
                        static_cast<unsigned long long>(offset));
  ssize_t ignored = ::write(synclog_fd_, line, static_cast<size_t>(n));
  (void)ignored;
}

}  // namespace ringest
