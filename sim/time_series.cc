// Interval bookkeeping for the two kinds of series.
#include "sim/time_series.h"

#include <algorithm>

namespace mqlab::sim {

void rate_series::record(sim_time t, double amount) {
  const auto i = static_cast<std::size_t>(t.ns() / interval_.ns());
  if (i >= sums_.size()) sums_.resize(i + 1, 0.0);
  sums_[i] += amount;
}

void level_series::grow(std::size_t n) {
  if (n > area_.size()) {
    area_.resize(n, 0.0);
    max_.resize(n, level_);
  }
}

void level_series::set(sim_time t, double level) {
  const std::int64_t step = interval_.ns();
  // Spread the area of the old level over every interval between last_ and t.
  while (last_ < t) {
    const auto i = static_cast<std::size_t>(last_.ns() / step);
    grow(i + 1);
    const sim_time boundary((static_cast<std::int64_t>(i) + 1) * step);
    const sim_time until = std::min(boundary, t);
    area_[i] += level_ * (until - last_).seconds();
    max_[i] = std::max(max_[i], level_);
    last_ = until;
  }
  const auto i = static_cast<std::size_t>(t.ns() / step);
  grow(i + 1);
  level_ = level;
  max_[i] = std::max(max_[i], level_);
}

}  // namespace mqlab::sim
