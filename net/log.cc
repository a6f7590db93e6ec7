// Levelled log lines on stderr with a UTC timestamp, as server logs read.
#include "net/log.h"

#include <chrono>
#include <cstdio>

#include <fmt/chrono.h>

namespace mqlab::net {

namespace {
log_level threshold = log_level::info;
constexpr const char* names[] = {"error", "warning", "info", "debug"};
}  // namespace

void set_log_level(log_level level) { threshold = level; }

bool log_enabled(log_level level) { return level <= threshold; }

void log_line(log_level level, std::string_view text) {
  const auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  fmt::print(stderr, "{:%F %T} [{}] {}\n", now, names[static_cast<int>(level)], text);
}

}  // namespace mqlab::net
