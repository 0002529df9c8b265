// The three commands, wired to their collaborators (HTTP client, offset log, state store,
// progress). Each returns the process exit code (see cli.h).
#pragma once

#include "tools/client/cli.h"

namespace ringest::client {

int run_command(const Options& options);

}  // namespace ringest::client
