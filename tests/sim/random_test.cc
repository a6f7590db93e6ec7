// Determinism and independence of named random streams; the exponential ziggurat against the
// exact exponential law (its CDF, moments and tail).
#include "sim/random.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(rng, exponential_follows_the_exponential_cdf) {
  // Kolmogorov-Smirnov against F(x) = 1 - exp(-x): D * sqrt(n) stays below 1.95 (p = 0.001).
  rng r(17);
  constexpr int n = 400'000;
  std::vector<double> xs(n);
  for (auto& x : xs) x = r.exponential();
  std::sort(xs.begin(), xs.end());
  double d = 0;
  for (int i = 0; i < n; ++i) {
    const double f = 1 - std::exp(-xs[static_cast<std::size_t>(i)]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  EXPECT_LT(d * std::sqrt(double{n}), 1.95);
  EXPECT_GT(xs.front(), 0.0);
}

TEST(rng, exponential_has_unit_mean_and_variance_and_the_right_tail) {
  rng r(23);
  constexpr int n = 4'000'000;
  double sum = 0, sum2 = 0;
  int beyond_base = 0, beyond_12 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = r.exponential();
    sum += x;
    sum2 += x * x;
    beyond_base += x > 7.69711747013104972;  // drawn from the ziggurat's tail
    beyond_12 += x > 12.0;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 1.0, 4 * 1.0 / std::sqrt(double{n}));
  EXPECT_NEAR(var, 1.0, 4 * std::sqrt(8.0 / n));  // Var(X^2) = 20, so Var(s^2) ~ 8/n
  const double tail = n * std::exp(-7.69711747013104972);  // about 1 814
  EXPECT_NEAR(beyond_base, tail, 4 * std::sqrt(tail));
  const double far = n * std::exp(-12.0);  // about 24.6
  EXPECT_NEAR(beyond_12, far, 5 * std::sqrt(far));
}

}  // namespace
}  // namespace mqlab::sim
