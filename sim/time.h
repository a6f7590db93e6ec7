// Virtual time for the simulator: signed 64-bit nanoseconds as two strong types,
// `duration` (a span) and `sim_time` (a point), plus parsing of "250us", "2.5s", "200/s".
#pragma once

#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace mqlab::sim {

/// A span of virtual time in nanoseconds.
class duration {
 public:
  constexpr duration() = default;
  constexpr explicit duration(std::int64_t ns) : ns_(ns) {}

  static constexpr duration nanoseconds(std::int64_t n) { return duration(n); }
  static constexpr duration microseconds(std::int64_t n) { return duration(n * 1'000); }
  static constexpr duration milliseconds(std::int64_t n) { return duration(n * 1'000'000); }
  static constexpr duration seconds(std::int64_t n) { return duration(n * 1'000'000'000); }
  /// Rounds to the nearest nanosecond.
  static duration from_seconds(double s);
  static constexpr duration max() { return duration(INT64_MAX); }

  constexpr std::int64_t ns() const { return ns_; }
  constexpr double seconds() const { return static_cast<double>(ns_) * 1e-9; }

  constexpr auto operator<=>(const duration&) const = default;
  constexpr duration operator+(duration o) const { return duration(ns_ + o.ns_); }
  constexpr duration operator-(duration o) const { return duration(ns_ - o.ns_); }
  constexpr duration operator*(std::int64_t k) const { return duration(ns_ * k); }
  constexpr duration& operator+=(duration o) { ns_ += o.ns_; return *this; }
  constexpr duration& operator-=(duration o) { ns_ -= o.ns_; return *this; }

 private:
  std::int64_t ns_ = 0;
};

/// A point in virtual time: nanoseconds since the start of the run.
class sim_time {
 public:
  constexpr sim_time() = default;
  constexpr explicit sim_time(std::int64_t ns) : ns_(ns) {}
  static constexpr sim_time max() { return sim_time(INT64_MAX); }

  constexpr std::int64_t ns() const { return ns_; }
  constexpr double seconds() const { return static_cast<double>(ns_) * 1e-9; }
  constexpr duration since_start() const { return duration(ns_); }

  constexpr auto operator<=>(const sim_time&) const = default;
  constexpr sim_time operator+(duration d) const { return sim_time(ns_ + d.ns()); }
  constexpr sim_time operator-(duration d) const { return sim_time(ns_ - d.ns()); }
  constexpr duration operator-(sim_time o) const { return duration(ns_ - o.ns_); }
  constexpr sim_time& operator+=(duration d) { ns_ += d.ns(); return *this; }

 private:
  std::int64_t ns_ = 0;
};

/// Parses "250us", "5ms", "2.5s", "1m", "1h", "100ns" (also "µs", "min", "0").
/// The error names the text and the allowed units.
std::expected<duration, std::string> parse_duration(std::string_view text);

/// Parses a rate "200/s", "5000/min", "3/ms", "1.5/h" or a bare number (per second) into events per second.
std::expected<double, std::string> parse_rate(std::string_view text);

/// Formats a duration with a unit that keeps it readable: "150ms", "2.5s", "730us".
std::string format_duration(duration d);

inline namespace literals {
constexpr duration operator""_ns(unsigned long long n) { return duration::nanoseconds(static_cast<std::int64_t>(n)); }
constexpr duration operator""_us(unsigned long long n) { return duration::microseconds(static_cast<std::int64_t>(n)); }
constexpr duration operator""_ms(unsigned long long n) { return duration::milliseconds(static_cast<std::int64_t>(n)); }
constexpr duration operator""_s(unsigned long long n) { return duration::seconds(static_cast<std::int64_t>(n)); }
}  // namespace literals

}  // namespace mqlab::sim
