// What every connection shares: configuration, the upload store, the router and access
// control. Built once in main(); read-only afterwards (the store has its own locks).
#pragma once

#include "engine/base/config.h"
#include "engine/hooks/pre_create.h"
#include "engine/upload/upload_store.h"

namespace ringest::http {

class AccessPolicy;
class Router;

struct ServerContext {
  const Config* config = nullptr;
  UploadStore* store = nullptr;
  const Router* router = nullptr;
  // Bearer tokens, signed URLs, CORS (http/access/access_policy.h); null when none is
  // configured. Its token set changes on SIGHUP, safely for readers.
  const AccessPolicy* access = nullptr;
  // The pre-create hook (engine/hooks/pre_create.h); null when none is configured.
  hooks::PreCreateHook* pre_create = nullptr;
};

}  // namespace ringest::http
