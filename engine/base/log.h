// Minimal logging to stderr. Not for the data path: one line per event, formatted into a
// stack buffer and written with a single write(2), so concurrent lines do not interleave.
#pragma once

namespace ringest {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void set_log_level(LogLevel level);
void log_line(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ringest

#define RINGEST_LOG_INFO(...) ::ringest::log_line(::ringest::LogLevel::kInfo, __VA_ARGS__)
#define RINGEST_LOG_WARN(...) ::ringest::log_line(::ringest::LogLevel::kWarn, __VA_ARGS__)
#define RINGEST_LOG_ERROR(...) ::ringest::log_line(::ringest::LogLevel::kError, __VA_ARGS__)
