// The end of every run: GET each stored upload back and compare its SHA-256 with the source's.
#pragma once

#include <cstdint>
#include <string>

#include "tools/loadgen/http_wire.h"

namespace ringest::loadgen {

// True when GET `target` answers 200 with exactly `bytes` bytes hashing to `expected_hex`;
// otherwise false with *error saying what differed.
bool verify_upload(const Endpoint& endpoint, int timeout_s, const std::string& target,
                   uint64_t bytes, const std::string& expected_hex, std::string* error);

}  // namespace ringest::loadgen
