// Parsing and formatting of virtual-time values.
#include "sim/time.h"

#include <array>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace mqlab::sim {
namespace {

struct unit {
  std::string_view name;
  double ns;
};

// Longest names first so "ms" is not read as "m" followed by junk.
constexpr std::array duration_units{
    unit{"min", 60e9}, unit{"ns", 1.0}, unit{"us", 1e3}, unit{"\u00b5s", 1e3},
    unit{"ms", 1e6},   unit{"s", 1e9},  unit{"m", 60e9},  unit{"h", 3600e9},
};

constexpr std::string_view allowed_units = "ns, us, ms, s, m (or min), h";

struct number_and_suffix {
  double value;
  std::string_view suffix;
};

std::expected<number_and_suffix, std::string> split_number(std::string_view text, std::string_view what) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value)) {
    return std::unexpected(fmt::format("bad {} '{}': expected a number followed by a unit", what, text));
  }
  auto suffix = text.substr(static_cast<std::size_t>(end - text.data()));
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  return number_and_suffix{value, suffix};
}

std::expected<double, std::string> unit_ns(std::string_view suffix) {
  for (const auto& u : duration_units) {
    if (suffix == u.name) return u.ns;
  }
  return std::unexpected(std::string(suffix));
}

}  // namespace

duration duration::from_seconds(double s) { return duration(static_cast<std::int64_t>(std::llround(s * 1e9))); }

std::expected<duration, std::string> parse_duration(std::string_view text) {
  auto parts = split_number(text, "duration");
  if (!parts) return std::unexpected(parts.error());
  if (parts->suffix.empty()) {
    if (parts->value == 0) return duration{};
    return std::unexpected(fmt::format("bad duration '{}': missing unit (use {})", text, allowed_units));
  }
  auto ns = unit_ns(parts->suffix);
  if (!ns) {
    return std::unexpected(
        fmt::format("bad duration '{}': unknown unit '{}' (use {})", text, parts->suffix, allowed_units));
  }
  double total = parts->value * *ns;
  if (std::fabs(total) > 9.2e18) return std::unexpected(fmt::format("bad duration '{}': out of range", text));
  return duration(static_cast<std::int64_t>(std::llround(total)));
}

std::expected<double, std::string> parse_rate(std::string_view text) {
  auto parts = split_number(text, "rate");
  if (!parts) return std::unexpected(parts.error());
  if (parts->suffix.empty()) return parts->value;
  if (parts->suffix.front() != '/') {
    return std::unexpected(fmt::format("bad rate '{}': expected a number per time unit such as 200/s", text));
  }
  auto ns = unit_ns(parts->suffix.substr(1));
  if (!ns) {
    return std::unexpected(fmt::format("bad rate '{}': unknown unit '{}' (use /{})", text, parts->suffix.substr(1),
                                       "s, /ms, /us, /m, /min, /h"));
  }
  return parts->value * 1e9 / *ns;
}

std::string format_duration(duration d) {
  const double ns = static_cast<double>(d.ns());
  const double mag = std::fabs(ns);
  if (mag >= 60e9) return fmt::format("{:.4g}m", ns / 60e9);
  if (mag >= 1e9) return fmt::format("{:.4g}s", ns / 1e9);
  if (mag >= 1e6) return fmt::format("{:.4g}ms", ns / 1e6);
  if (mag >= 1e3) return fmt::format("{:.4g}us", ns / 1e3);
  return fmt::format("{}ns", d.ns());
}

}  // namespace mqlab::sim
