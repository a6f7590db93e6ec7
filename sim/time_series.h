// Time series sampled per fixed interval, for charts of throughput, queue depth and
// utilisation over (virtual or real) time.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/time.h"

namespace mqlab::sim {

/// Counts events per interval: record(t) adds one (or `amount`) to t's interval.
/// rate(i) is the per-second rate in interval i.
class rate_series {
 public:
  explicit rate_series(duration interval) : interval_(interval) {}
  void record(sim_time t, double amount = 1.0);
  duration interval() const { return interval_; }
  std::size_t size() const { return sums_.size(); }
  double sum(std::size_t i) const { return sums_[i]; }
  double rate(std::size_t i) const { return sums_[i] / interval_.seconds(); }

 private:
  duration interval_;
  std::vector<double> sums_;
};

/// A level that changes at instants (queue depth, busy servers): keeps, per interval, the
/// time-weighted mean and the maximum. Call set() at every change and close() at the end.
class level_series {
 public:
  explicit level_series(duration interval) : interval_(interval) {}
  void set(sim_time t, double level);
  /// Accounts the current level up to `end`.
  void close(sim_time end) { set(end, level_); }
  duration interval() const { return interval_; }
  std::size_t size() const { return area_.size(); }
  double mean(std::size_t i) const { return area_[i] / interval_.seconds(); }
  double max(std::size_t i) const { return max_[i]; }
  double current() const { return level_; }

 private:
  void grow(std::size_t n);
  duration interval_;
  sim_time last_{};
  double level_ = 0;
  std::vector<double> area_;  // level x seconds, per interval
  std::vector<double> max_;
};

}  // namespace mqlab::sim
