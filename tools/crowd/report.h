// What the crowd saw, rendered as a table for people or one JSON object for scripts
// (bench/load/run reads the JSON).
#pragma once

#include <string>

#include "tools/crowd/crowd.h"

namespace ringest::crowd {

std::string format_table(const CrowdStats& s);
std::string format_json(const CrowdStats& s);

}  // namespace ringest::crowd
