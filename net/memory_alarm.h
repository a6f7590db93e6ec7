// RabbitMQ's memory alarm: publishers are blocked while the process holds more memory than the
// high watermark. What counts is the process's resident memory, as RabbitMQ's default
// vm_memory_calculation_strategy (rss) counts it: messages, their indexes, connection buffers,
// the cores' state, and what the allocator keeps, not only the bodies that are queued.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace mqlab::net {

/// RabbitMQ's default vm_memory_high_watermark.relative.
inline constexpr double default_memory_high_watermark = 0.4;

/// The process's resident set, bytes.
std::uint64_t process_resident_bytes();
/// The machine's physical memory.
std::uint64_t physical_memory_bytes();

/// "0.4" (a fraction of physical memory, above 0 and at most 1), "200000000" (bytes) or "0" (never
/// block) to bytes; an error names the value and what is allowed.
std::expected<std::uint64_t, std::string> parse_memory_watermark(std::string_view text);

class memory_alarm {
 public:
  /// `watermark` bytes; 0 never raises the alarm.
  explicit memory_alarm(std::uint64_t watermark) : watermark_(watermark) {}
  /// Whether the process is over the watermark. Measures at most every `every`, else answers
  /// from the last measurement. Over it, memory the allocator holds free goes back to the
  /// system first, so that a drained queue clears the alarm.
  bool over(std::chrono::steady_clock::duration every = std::chrono::milliseconds(20));
  std::uint64_t watermark() const { return watermark_; }
  /// The last measurement.
  std::uint64_t held() const { return held_; }

 private:
  std::uint64_t watermark_;
  std::uint64_t held_ = 0;
  std::chrono::steady_clock::time_point measured_{};
};

}  // namespace mqlab::net
