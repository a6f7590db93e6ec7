// Confidence intervals against published t tables and coverage of the true mean.
#include "sim/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim/distribution.h"

namespace mqlab::sim {
namespace {

TEST(student_t, quantiles_match_the_published_table) {
  EXPECT_NEAR(student_t_quantile(0.95, 1), 12.706, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.95, 4), 2.776, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.95, 9), 2.262, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.95, 30), 2.042, 1e-3);
  EXPECT_NEAR(student_t_quantile(0.99, 10), 3.169, 1e-3);
}

TEST(confidence_interval, five_known_samples) {
  const std::vector<double> xs{10, 12, 11, 13, 14};  // mean 12, s = 1.5811
  auto ci = confidence_interval(xs);
  EXPECT_DOUBLE_EQ(ci.mean, 12.0);
  EXPECT_NEAR(ci.half_width, 2.776 * 1.5811 / std::sqrt(5.0), 1e-3);
}

TEST(confidence_interval, covers_the_true_mean_about_95_percent_of_the_time) {
  rng r(21);
  auto d = distribution::exponential(1.0);
  int covered = 0;
  constexpr int trials = 2000;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> xs;
    for (int i = 0; i < 30; ++i) xs.push_back(d.sample(r));
    covered += confidence_interval(xs).contains(1.0);
  }
  // Exponential samples skew the t interval slightly below nominal; 93%±1.5% is expected.
  EXPECT_GT(covered, trials * 0.90);
  EXPECT_LT(covered, trials * 0.97);
}

TEST(batch_means, correlated_series_gets_a_wider_interval_than_naive) {
  // AR(1) with phi = 0.9: neighbours are strongly correlated, so the naive interval is too narrow.
  rng r(5);
  auto noise = distribution::normal(0.0, 1.0, -1e9);
  std::vector<double> xs;
  double x = 0;
  for (int i = 0; i < 200'000; ++i) xs.push_back(x = 0.9 * x + noise.sample(r));
  auto naive = confidence_interval(xs);
  auto batched = batch_means(xs, 20);
  EXPECT_GT(batched.half_width, 3 * naive.half_width);  // theory: sqrt((1+phi)/(1-phi)) = 4.36
  EXPECT_TRUE(batched.contains(0.0));
}

TEST(tally, running_moments) {
  tally t;
  for (double v : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) t.add(v);
  EXPECT_DOUBLE_EQ(t.mean(), 5.0);
  EXPECT_NEAR(t.variance(), 32.0 / 7, 1e-12);
  EXPECT_DOUBLE_EQ(t.min(), 2.0);
  EXPECT_DOUBLE_EQ(t.max(), 9.0);
}

}  // namespace
}  // namespace mqlab::sim
