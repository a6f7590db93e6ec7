// Histogram percentiles against exact sorted quantiles, merging, and moments.
#include "sim/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/distribution.h"

namespace mqlab::sim {
namespace {

std::int64_t exact_percentile(std::vector<std::int64_t> sorted, double p) {
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

TEST(histogram, percentiles_within_one_percent_from_1us_to_1h) {
  // Log-uniform values over 1 µs .. 1 h exercise every power of two in the range.
  rng r(9);
  histogram h;
  std::vector<std::int64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const double log_ns = std::log(1e3) + r.uniform01() * (std::log(3.6e12) - std::log(1e3));
    const auto v = static_cast<std::int64_t>(std::exp(log_ns));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99}) {
    const auto exact = exact_percentile(values, p);
    EXPECT_NEAR(static_cast<double>(h.percentile(p)), static_cast<double>(exact), 0.01 * static_cast<double>(exact))
        << "p" << p;
  }
  EXPECT_EQ(h.percentile(100), values.back());
  EXPECT_EQ(h.percentile(0), values.front());
  EXPECT_EQ(h.count(), values.size());
}

TEST(histogram, every_single_value_is_reported_within_one_percent) {
  for (std::int64_t v : std::vector<std::int64_t>{1, 255, 256, 257, 1000, 123'456, 999'999'999,
                                                  3'600'000'000'000, INT64_MAX / 2}) {
    histogram h;
    h.record(v);
    h.record(v);  // two samples so the percentile is not just min/max
    EXPECT_NEAR(static_cast<double>(h.percentile(50)), static_cast<double>(v), 0.01 * static_cast<double>(v));
  }
}

TEST(histogram, merge_equals_recording_everything_in_one) {
  rng r(4);
  auto d = distribution::lognormal(1e6, 2.0);
  histogram a, b, all;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::int64_t>(d.sample(r));
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_NEAR(a.mean(), all.mean(), 1e-9 * all.mean());
  EXPECT_NEAR(a.stddev(), all.stddev(), 1e-9 * all.stddev());
  for (double p : {50.0, 99.0, 99.99}) EXPECT_EQ(a.percentile(p), all.percentile(p));
}

TEST(histogram, mean_and_stddev_are_exact_not_bucketed) {
  histogram h;
  for (std::int64_t v : {1'000'000, 1'000'002, 1'000'004}) h.record(v);
  EXPECT_DOUBLE_EQ(h.mean(), 1'000'002.0);
  EXPECT_NEAR(h.stddev(), 2.0, 1e-9);
}

TEST(histogram, cumulative_fraction_is_a_cdf) {
  histogram h;
  for (int i = 1; i <= 100; ++i) h.record(i);
  EXPECT_DOUBLE_EQ(h.cumulative_fraction(50), 0.5);
  EXPECT_DOUBLE_EQ(h.cumulative_fraction(1000), 1.0);
  EXPECT_DOUBLE_EQ(h.cumulative_fraction(0), 0.0);
}

TEST(histogram, empty_histogram_reports_zeros) {
  histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(99), 0);
  EXPECT_EQ(h.max(), 0);
}

}  // namespace
}  // namespace mqlab::sim
