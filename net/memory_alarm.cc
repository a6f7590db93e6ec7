// The process's resident memory from /proc, and the watermark's parsing.
#include "net/memory_alarm.h"

#include <malloc.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cmath>

#include <fmt/format.h>

namespace mqlab::net {

std::uint64_t process_resident_bytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const bool read = std::fscanf(statm, "%llu %llu", &size, &resident) == 2;
  std::fclose(statm);
  return read ? resident * static_cast<std::uint64_t>(sysconf(_SC_PAGE_SIZE)) : 0;
}

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size) : 0;
}

std::expected<std::uint64_t, std::string> parse_memory_watermark(std::string_view text) {
  const auto bad = [&] {
    return std::unexpected(fmt::format("--memory-high-watermark '{}': give a fraction of physical memory above 0 and at "
                                       "most 1 (0.4), a number of bytes, or 0 for no alarm",
                                       text));
  };
  if (text.find('.') != std::string_view::npos) {
    double fraction = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fraction);
    if (ec != std::errc{} || end != text.data() + text.size() || !(fraction > 0 && fraction <= 1)) return bad();
    return static_cast<std::uint64_t>(std::floor(fraction * static_cast<double>(physical_memory_bytes())));
  }
  std::uint64_t bytes = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return bad();
  return bytes;
}

bool memory_alarm::over(std::chrono::steady_clock::duration every) {
  if (watermark_ == 0) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now - measured_ >= every) {
    held_ = process_resident_bytes();
    if (held_ >= watermark_) {
      malloc_trim(0);  // glibc keeps freed memory resident until asked
      held_ = process_resident_bytes();
    }
    measured_ = now;
  }
  return held_ >= watermark_;
}

}  // namespace mqlab::net
