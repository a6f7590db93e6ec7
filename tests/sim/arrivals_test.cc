// Arrival processes: counts and gaps against their defining rates.
#include "sim/arrivals.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mqlab::sim {
namespace {

std::uint64_t count_until(arrival_process& p, rng& r, sim_time end, sim_time from = sim_time()) {
  std::uint64_t n = 0;
  for (sim_time t = p.next(r); t < end; t = p.next(r)) n += t >= from;
  return n;
}

TEST(arrivals, poisson_count_matches_rate) {
  auto p = arrival_process::poisson(200);
  rng r(1);
  const auto n = count_until(p, r, sim_time() + 100_s);
  EXPECT_NEAR(static_cast<double>(n), 20000, 5 * std::sqrt(20000.0));
}

TEST(arrivals, deterministic_gaps_are_exact) {
  auto p = arrival_process::deterministic(1000);
  rng r(1);
  EXPECT_EQ(p.next(r), sim_time() + 1_ms);
  EXPECT_EQ(p.next(r), sim_time() + 2_ms);
}

TEST(arrivals, flash_sale_profile_has_the_rate_of_each_step) {
  // 100/s, then 5000/s for 10 s, then 100/s again.
  auto p = arrival_process::profile({{0_s, 100}, {10_s, 5000}, {20_s, 100}});
  ASSERT_TRUE(p.has_value());
  rng r(2);
  std::uint64_t before = 0, during = 0, after = 0;
  for (sim_time t = p->next(r); t < sim_time() + 40_s; t = p->next(r)) {
    if (t < sim_time() + 10_s) ++before;
    else if (t < sim_time() + 20_s) ++during;
    else ++after;
  }
  EXPECT_NEAR(static_cast<double>(before), 1000, 5 * std::sqrt(1000.0));
  EXPECT_NEAR(static_cast<double>(during), 50000, 5 * std::sqrt(50000.0));
  EXPECT_NEAR(static_cast<double>(after), 2000, 5 * std::sqrt(2000.0));
}

TEST(arrivals, profile_ending_at_zero_rate_stops) {
  auto p = arrival_process::profile({{0_s, 1000}, {1_s, 0}});
  rng r(3);
  sim_time t;
  int n = 0;
  while ((t = p->next(r)) != sim_time::max()) {
    ASSERT_LT(t, sim_time() + 1_s);
    ++n;
  }
  EXPECT_GT(n, 800);
}

TEST(arrivals, bad_profiles_are_rejected) {
  EXPECT_FALSE(arrival_process::profile({}).has_value());
  EXPECT_FALSE(arrival_process::profile({{1_s, 10}}).has_value());
  EXPECT_FALSE(arrival_process::profile({{0_s, 10}, {0_s, 20}}).has_value());
  EXPECT_FALSE(arrival_process::profile({{0_s, -1}}).has_value());
}

TEST(arrivals, on_off_long_run_rate_is_duty_cycle_times_rate) {
  // ON 1 s at 1000/s, OFF 3 s: a quarter of the time on, 250/s on average.
  auto p = arrival_process::on_off(1000, distribution::exponential(1.0), distribution::exponential(3.0));
  EXPECT_DOUBLE_EQ(p.mean_rate(), 250);
  rng r(4);
  // Renewal-reward: sd of the long-run rate over 20000 s is about 3.8/s; allow 4 sd.
  const auto n = count_until(p, r, sim_time() + 20000_s);
  EXPECT_NEAR(static_cast<double>(n) / 20000, 250, 15);
}

}  // namespace
}  // namespace mqlab::sim
