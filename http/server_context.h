// What every connection shares: configuration, the data directory, the upload registry and
// the list of reactors (for /metrics). Built once in main(); read-only afterwards except for
// the registry, which has its own lock.
#pragma once

#include <vector>

#include "engine/base/config.h"
#include "engine/reactor/reactor.h"
#include "engine/storage/data_dir.h"
#include "engine/upload/upload.h"

namespace ringest::http {

class AccessPolicy;

struct ServerContext {
  const Config* config = nullptr;
  storage::DataDir* data_dir = nullptr;
  UploadRegistry* registry = nullptr;
  std::vector<Reactor*> reactors;
  // Bearer tokens, signed URLs, CORS (http/access/access_policy.h); null when none is
  // configured. Its token set changes on SIGHUP, safely for readers.
  const AccessPolicy* access = nullptr;
};

}  // namespace ringest::http
