// Each distribution's samples against its theoretical mean and variance.
#include "sim/distribution.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "sim/statistics.h"

namespace mqlab::sim {
namespace {

struct moment_case {
  const char* name;
  distribution dist;
  double mean;
  double variance;
};

class distribution_moments : public testing::TestWithParam<moment_case> {};

TEST_P(distribution_moments, sample_mean_and_variance_match_theory) {
  const auto& c = GetParam();
  EXPECT_NEAR(c.dist.mean(), c.mean, 1e-9 * std::max(1.0, c.mean));
  EXPECT_NEAR(c.dist.variance(), c.variance, 1e-6 * std::max(1.0, c.variance));
  rng r(11);
  tally t;
  constexpr int n = 400'000;
  for (int i = 0; i < n; ++i) t.add(c.dist.sample(r));
  // 5 standard errors of the mean; the variance within 5%.
  EXPECT_NEAR(t.mean(), c.mean, 5 * std::sqrt(c.variance / n) + 1e-12);
  EXPECT_NEAR(t.variance(), c.variance, 0.05 * c.variance + 1e-12);
}

INSTANTIATE_TEST_SUITE_P(
    all, distribution_moments,
    testing::Values(moment_case{"constant", distribution::constant(0.05), 0.05, 0.0},
                    moment_case{"exponential", distribution::exponential(2.0), 2.0, 4.0},
                    moment_case{"uniform", distribution::uniform(1.0, 3.0), 2.0, 4.0 / 12},
                    moment_case{"normal", distribution::normal(10.0, 2.0, -100.0), 10.0, 4.0},
                    // Truncated at its mean: the half-normal, mean sqrt(2/pi), variance 1 - 2/pi.
                    moment_case{"half_normal", distribution::normal(0.0, 1.0, 0.0), std::sqrt(2 / M_PI), 1 - 2 / M_PI},
                    moment_case{"lognormal", distribution::lognormal(1.0, 0.5), 1.0, 0.25},
                    moment_case{"erlang3", distribution::erlang(3, 3.0), 3.0, 3.0},
                    // A thousand phases: their product underflows a double, their logs do not.
                    moment_case{"erlang1000", distribution::erlang(1000, 2.0), 2.0, 4.0 / 1000},
                    moment_case{"hyperexp", distribution::hyperexponential(1.0, 2.0), 1.0, 4.0},
                    moment_case{"pareto", distribution::pareto(5.0, 1.0), 1.25, 5.0 / (16 * 3)},
                    moment_case{"zipf", distribution::zipf(3, 1.0), (1 + 1 + 1) / (1 + 0.5 + 1.0 / 3),
                                (1 + 2 + 3) / (1 + 0.5 + 1.0 / 3) - std::pow(3 / (1 + 0.5 + 1.0 / 3), 2)}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(distribution, truncated_normal_never_goes_below_its_floor) {
  auto d = distribution::normal(1.0, 2.0, 0.0);
  rng r(1);
  for (int i = 0; i < 10000; ++i) ASSERT_GE(d.sample(r), 0.0);
  EXPECT_GT(d.mean(), 1.0);  // cutting the left tail moves the mean up
}

TEST(distribution, zipf_rank_one_is_most_likely) {
  auto d = distribution::zipf(100, 1.2);
  rng r(2);
  int ones = 0, twos = 0;
  for (int i = 0; i < 100000; ++i) {
    const double k = d.sample(r);
    ASSERT_GE(k, 1);
    ASSERT_LE(k, 100);
    ones += k == 1;
    twos += k == 2;
  }
  EXPECT_NEAR(static_cast<double>(ones) / twos, std::pow(2.0, 1.2), 0.1);
}

TEST(distribution, empirical_from_csv_resamples_the_column) {
  const std::string path = testing::TempDir() + "/service.csv";
  std::ofstream(path) << "id,ms\n1,10\n2,20\n3,30\n";
  auto d = distribution::empirical_from_csv(path, "ms");
  ASSERT_TRUE(d.has_value()) << d.error();
  EXPECT_DOUBLE_EQ(d->mean(), 20.0);
  rng r(3);
  for (int i = 0; i < 100; ++i) {
    const double v = d->sample(r);
    EXPECT_TRUE(v == 10 || v == 20 || v == 30);
  }
  auto missing = distribution::empirical_from_csv(path, "latency");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("no column 'latency'"), std::string::npos);
  std::ofstream(path) << "ms\n10\nabc\n";
  auto bad = distribution::empirical_from_csv(path, "ms");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find(":3:"), std::string::npos) << bad.error();
}

TEST(parse_distribution, reads_station_specs) {
  EXPECT_TRUE(parse_distribution("exp", 0.01)->memoryless());
  EXPECT_DOUBLE_EQ(parse_distribution("const", 0.01)->scv(), 0.0);
  EXPECT_NEAR(parse_distribution("erlang:4", 0.01)->scv(), 0.25, 1e-12);
  EXPECT_NEAR(parse_distribution("lognormal:0.5", 0.01)->scv(), 0.25, 1e-12);
  EXPECT_NEAR(parse_distribution("hyperexp:2", 0.01)->scv(), 4.0, 1e-9);
  auto bad = parse_distribution("weibull", 0.01);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("unknown distribution 'weibull'"), std::string::npos);
  EXPECT_FALSE(parse_distribution("erlang", 0.01).has_value());
  EXPECT_FALSE(parse_distribution("erlang:2.5", 0.01).has_value());
  EXPECT_TRUE(parse_distribution("erlang:1000", 0.01).has_value());
  EXPECT_NE(parse_distribution("erlang:1000000000", 0.01).error().find("from 1 to 1000"), std::string::npos);
  EXPECT_FALSE(parse_distribution("lognormal:-1", 0.01).has_value());
}

}  // namespace
}  // namespace mqlab::sim
