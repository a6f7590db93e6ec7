// The closed-form formulas against hand-computed textbook values.
#include "models/queueing_theory.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mqlab::models {
namespace {

TEST(queueing_theory, erlang_b_and_c_small_cases) {
  // c = 2, a = 1: B = (1/2) / (1 + 1 + 1/2) = 0.2; C = 1/3 (Gross & Harris, example 2.3 style).
  EXPECT_NEAR(erlang_b(2, 1.0), 0.2, 1e-12);
  EXPECT_NEAR(erlang_c(2, 1.0), 1.0 / 3, 1e-12);
  EXPECT_NEAR(erlang_c(1, 0.9), 0.9, 1e-12);  // M/M/1: P(wait) = ρ
}

TEST(queueing_theory, mm1_wait_is_rho_over_mu_minus_lambda) {
  const auto m = mm1(90, 100);
  EXPECT_NEAR(m.wait_mean, 0.9 / 10, 1e-12);
  EXPECT_NEAR(m.response_mean, 0.1, 1e-12);
}

TEST(queueing_theory, mm1_wait_quantiles_follow_the_exponential_tail) {
  // P(Wq > t) = ρ e^{-(μ-λ)t}: p99 = ln(ρ / 0.01) / (μ − λ); the median is 0 when ρ <= 0.5.
  const auto m = mm1(90, 100);
  EXPECT_NEAR(m.wait_quantile(0.99), std::log(0.9 / 0.01) / 10, 1e-12);
  EXPECT_DOUBLE_EQ(mm1(40, 100).wait_quantile(0.5), 0.0);
}

TEST(queueing_theory, mmc_time_in_system_quantiles) {
  // One server: the time in system of M/M/1 is exponential with rate μ − λ.
  EXPECT_NEAR(mmc(90, 100, 1).response_quantile(0.99), std::log(100.0) / 10, 1e-9);
  // Several (including c − 1 = λ/μ, where the formula's limit applies): the quantiles average to
  // the mean time in system, Wq + 1/μ.
  for (const auto& [lambda, servers] : {std::pair{400.0, 10}, std::pair{200.0, 5}, std::pair{160.0, 5}, std::pair{90.0, 2}}) {
    const auto m = mmc(lambda, 50, servers);
    double mean = 0;
    constexpr int slices = 20'000;
    for (int i = 0; i < slices; ++i) mean += m.response_quantile((i + 0.5) / slices) / slices;
    EXPECT_NEAR(mean, m.response_mean, 0.002 * m.response_mean) << "c = " << servers;
    EXPECT_GT(m.response_quantile(0.99), m.response_quantile(0.9));
  }
}

TEST(queueing_theory, md1_waits_half_as_long_as_mm1) {
  EXPECT_NEAR(mg1(0.8, 1.0, 0.0).wait_mean, mm1(0.8, 1.0).wait_mean / 2, 1e-12);
}

TEST(queueing_theory, mm1k_blocking_formula) {
  // M/M/1/K: P_K = (1 - ρ) ρ^K / (1 - ρ^(K+1)).
  const double rho = 0.9;
  const int k = 5;
  const double pk = (1 - rho) * std::pow(rho, k) / (1 - std::pow(rho, k + 1));
  EXPECT_NEAR(mmck(0.9, 1.0, 1, k).block_prob, pk, 1e-12);
}

TEST(queueing_theory, mmck_with_huge_capacity_tends_to_mmc) {
  const auto finite = mmck(3.2, 1.0, 4, 2000);
  const auto infinite = mmc(3.2, 1.0, 4);
  EXPECT_NEAR(finite.wait_mean, infinite.wait_mean, 1e-9);
  EXPECT_LT(finite.block_prob, 1e-12);
}

TEST(queueing_theory, exact_theory_is_silent_where_no_formula_is_exact) {
  EXPECT_FALSE(exact_theory(3.0, sim::distribution::constant(1.0), 4, 0).has_value());   // M/D/4
  EXPECT_FALSE(exact_theory(0.5, sim::distribution::constant(1.0), 1, 10).has_value());  // M/D/1/10
  EXPECT_FALSE(exact_theory(2.0, sim::distribution::exponential(1.0), 1, 0).has_value());  // unstable
  EXPECT_TRUE(exact_theory(0.5, sim::distribution::lognormal(1.0, 2.0), 1, 0).has_value());
}

TEST(queueing_theory, kendall_names) {
  EXPECT_EQ(kendall(sim::distribution::exponential(1), 1, 0), "M/M/1");
  EXPECT_EQ(kendall(sim::distribution::constant(1), 1, 0), "M/D/1");
  EXPECT_EQ(kendall(sim::distribution::erlang(2, 1), 4, 20), "M/E2/4/20");
  EXPECT_EQ(kendall(sim::distribution::lognormal(1, 0.5), 1, 0), "M/G/1");
}

}  // namespace
}  // namespace mqlab::models
