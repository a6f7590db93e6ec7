// The one logging facade of the network layer: levelled lines on stderr, kept out of hot loops.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace mqlab::net {

enum class log_level { error, warn, info, debug };

/// Lines above this level are dropped. Not synchronised: set it before servers start.
void set_log_level(log_level level);
bool log_enabled(log_level level);
void log_line(log_level level, std::string_view text);

template <typename... Args>
void log(log_level level, fmt::format_string<Args...> format, Args&&... args) {
  if (log_enabled(level)) log_line(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mqlab::net
