// The window's readings; a clock that reads less than at the start (its thread has ended, so
// it reads 0) counts as idle.
#include "models/measured_cpu.h"

#include <time.h>

#include <algorithm>

namespace mqlab::models {

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void cpu_window::start(std::vector<double> cpu_seconds) {
  at_start_ = std::move(cpu_seconds);
  started_ = std::chrono::steady_clock::now();
}

std::vector<double> cpu_window::cores(std::span<const double> cpu_seconds) const {
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::vector<double> out;
  for (std::size_t i = 0; i < cpu_seconds.size() && i < at_start_.size(); ++i) {
    out.push_back(wall > 0 ? std::max(0.0, cpu_seconds[i] - at_start_[i]) / wall : 0.0);
  }
  return out;
}

}  // namespace mqlab::models
