// Determinism and independence of named random streams.
#include "sim/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mqlab::sim {
namespace {

std::vector<std::uint64_t> draws(rng r, int n) {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(r.next());
  return out;
}

TEST(random_streams, same_seed_and_name_give_identical_draws) {
  EXPECT_EQ(draws(random_streams(42).stream("arrivals"), 100), draws(random_streams(42).stream("arrivals"), 100));
}

TEST(random_streams, different_seeds_or_names_differ) {
  EXPECT_NE(draws(random_streams(42).stream("arrivals"), 10), draws(random_streams(43).stream("arrivals"), 10));
  EXPECT_NE(draws(random_streams(42).stream("arrivals"), 10), draws(random_streams(42).stream("service"), 10));
}

TEST(random_streams, adding_a_stream_does_not_change_another) {
  // The arrival stream of a run is the same whether or not a consumer stream was created first.
  random_streams with_consumer(7);
  auto consumer = with_consumer.stream("consumer-3");
  (void)consumer.next();
  auto arrivals_after = with_consumer.stream("arrivals");
  auto arrivals_alone = random_streams(7).stream("arrivals");
  EXPECT_EQ(draws(arrivals_after, 50), draws(arrivals_alone, 50));
}

TEST(random_streams, forks_are_distinct_families) {
  random_streams root(1);
  EXPECT_NE(draws(root.fork("replication-0").stream("x"), 5), draws(root.fork("replication-1").stream("x"), 5));
  EXPECT_EQ(draws(root.fork("replication-0").stream("x"), 5), draws(root.fork("replication-0").stream("x"), 5));
}

TEST(rng, uniform01_is_in_open_interval_with_right_moments) {
  rng r(3);
  double sum = 0, sum2 = 0;
  constexpr int n = 1'000'000;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform01();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.002);            // sd of mean = 0.29/1000
  EXPECT_NEAR(sum2 / n - 0.25, 1.0 / 12, 0.002);
}

TEST(rng, below_is_unbiased_over_small_ranges) {
  rng r(5);
  std::vector<int> counts(6, 0);
  constexpr int n = 600'000;
  for (int i = 0; i < n; ++i) ++counts[r.below(6)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 6.0) * (c - n / 6.0) / (n / 6.0);
  EXPECT_LT(chi2, 20.5);  // chi-square, 5 dof, p = 0.001
}

}  // namespace
}  // namespace mqlab::sim
