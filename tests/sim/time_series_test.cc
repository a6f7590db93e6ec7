// Interval accounting of rates and time-weighted levels.
#include "sim/time_series.h"

#include <gtest/gtest.h>

namespace mqlab::sim {
namespace {

TEST(rate_series, counts_per_interval_become_rates) {
  rate_series s(100_ms);
  for (int i = 0; i < 10; ++i) s.record(sim_time() + duration::milliseconds(i * 10));  // 10 in [0,100ms)
  s.record(sim_time() + 250_ms);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s.rate(0), 100.0);
  EXPECT_DOUBLE_EQ(s.rate(1), 0.0);
  EXPECT_DOUBLE_EQ(s.rate(2), 10.0);
}

TEST(level_series, time_weighted_mean_and_max_across_intervals) {
  level_series s(1_s);
  s.set(sim_time() + 500_ms, 4);   // level 0 for 0.5 s, then 4
  s.set(sim_time() + 1500_ms, 2);  // 4 until 1.5 s, then 2
  s.close(sim_time() + 2_s);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s.mean(0), 2.0);  // 0.5*0 + 0.5*4
  EXPECT_DOUBLE_EQ(s.mean(1), 3.0);  // 0.5*4 + 0.5*2
  EXPECT_DOUBLE_EQ(s.max(0), 4.0);
  EXPECT_DOUBLE_EQ(s.max(1), 4.0);
}

}  // namespace
}  // namespace mqlab::sim
