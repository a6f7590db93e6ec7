// A log-linear latency histogram in the manner of HdrHistogram: values below 256 ns are kept
// exactly; above, each power of two is split into 128 linear buckets, so a bucket is at most
// 1/128 of its values wide and a reported percentile (the bucket midpoint) is within 0.4% of
// the true sample, from 1 ns up to the full int64 range. Histograms merge by adding counts.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/time.h"

namespace mqlab::sim {

class histogram {
 public:
  /// Records one value in nanoseconds (negative values count as 0). O(1).
  void record(std::int64_t value);
  void record(duration d) { record(d.ns()); }
  /// Adds another histogram's observations to this one.
  void merge(const histogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  double mean() const;
  double stddev() const;
  std::int64_t min() const { return count_ ? min_ : 0; }
  std::int64_t max() const { return count_ ? max_ : 0; }
  /// The value at or below which `p` percent of observations fall (nearest rank), 0 <= p <= 100.
  /// p = 0 is the minimum and p = 100 the maximum, both exact. O(number of buckets).
  std::int64_t percentile(double p) const;
  /// Fraction of observations <= value, for CDF charts.
  double cumulative_fraction(std::int64_t value) const;

  /// Visits (bucket representative value, count) for non-empty buckets in increasing order.
  template <typename F>
  void for_each_bucket(F&& f) const {
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i]) f(representative(i), counts_[i]);
    }
  }

 private:
  static std::size_t index_of(std::int64_t v);
  static std::int64_t lowest(std::size_t index);
  std::int64_t representative(std::size_t index) const;

  std::vector<std::uint64_t> counts_;  // grown on demand to the highest bucket used
  std::uint64_t count_ = 0;
  double mean_ = 0;  // Welford running mean and sum of squared deviations,
  double m2_ = 0;    // stable even when the spread is tiny next to the mean
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = INT64_MIN;
};

}  // namespace mqlab::sim
