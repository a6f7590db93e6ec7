// The simulated station against queueing theory: the theory must fall inside the simulation's
// 95% confidence interval and that interval must be narrower than ±2% of the value.
#include "models/station_lab.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <vector>

#include "sim/arrivals.h"
#include "sim/statistics.h"

namespace mqlab::models {
namespace {

struct theory_case {
  const char* name;
  double lambda;
  sim::distribution service;
  int servers;
  std::uint64_t capacity;
  std::uint64_t customers;  // per replication
};

class station_vs_theory : public testing::TestWithParam<theory_case> {};

TEST_P(station_vs_theory, mean_wait_within_ci_and_ci_below_two_percent) {
  const auto& c = GetParam();
  station_lab_config cfg;
  cfg.arrival_rate = c.lambda;
  cfg.station = {c.name, c.servers, c.service, c.capacity};
  cfg.customers = c.customers;
  cfg.warmup = c.customers / 20;
  cfg.replications = 10;
  cfg.seed = 7;
  const auto r = run_station_lab(cfg);
  ASSERT_TRUE(r.theory.has_value());
  EXPECT_TRUE(r.wait_mean.contains(r.theory->wait_mean))
      << "sim " << r.wait_mean.mean << " ± " << r.wait_mean.half_width << " vs theory " << r.theory->wait_mean;
  EXPECT_LT(r.wait_mean.relative(), 0.02) << "half-width " << r.wait_mean.relative() * 100 << "%";
  EXPECT_NEAR(r.utilization.mean, r.theory->utilization, 3 * r.utilization.half_width + 1e-3);
  if (r.theory->wait_quantile) {
    const double p99 = r.theory->wait_quantile(0.99);
    EXPECT_NEAR(r.waits.percentile(99) * 1e-9, p99, 0.03 * p99) << "wait p99";
  }
  if (c.capacity != 0) {
    EXPECT_TRUE(r.block_prob.contains(r.theory->block_prob))
        << "block " << r.block_prob.mean << " ± " << r.block_prob.half_width << " vs " << r.theory->block_prob;
  }
}

INSTANTIATE_TEST_SUITE_P(
    textbook, station_vs_theory,
    testing::Values(theory_case{"mm1_rho50", 0.5, sim::distribution::exponential(1.0), 1, 0, 200'000},
                    theory_case{"mm1_rho90", 0.9, sim::distribution::exponential(1.0), 1, 0, 1'500'000},
                    theory_case{"mm4_rho80", 3.2, sim::distribution::exponential(1.0), 4, 0, 800'000},
                    theory_case{"md1_rho80", 0.8, sim::distribution::constant(1.0), 1, 0, 500'000},
                    theory_case{"me2_1_rho80", 0.8, sim::distribution::erlang(2, 1.0), 1, 0, 600'000},
                    theory_case{"mlognormal_1_rho70", 0.7, sim::distribution::lognormal(1.0, 0.5), 1, 0, 200'000},
                    theory_case{"mm1k_rho90_k10", 0.9, sim::distribution::exponential(1.0), 1, 10, 200'000},
                    theory_case{"mm3k_rho100_k8", 3.0, sim::distribution::exponential(1.0), 3, 8, 200'000}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(station_lab, same_seed_gives_identical_numbers_and_other_seed_differs) {
  station_lab_config cfg;
  cfg.arrival_rate = 0.8;
  cfg.station = {"s", 1, sim::distribution::exponential(1.0), 0};
  cfg.customers = 20'000;
  cfg.replications = 3;
  cfg.seed = 5;
  const auto a = run_station_lab(cfg);
  const auto b = run_station_lab(cfg);
  EXPECT_EQ(a.wait_mean.mean, b.wait_mean.mean);  // bit for bit
  EXPECT_EQ(a.wait_mean.half_width, b.wait_mean.half_width);
  EXPECT_EQ(a.waits.percentile(99), b.waits.percentile(99));
  EXPECT_EQ(a.events, b.events);
  cfg.seed = 6;
  EXPECT_NE(run_station_lab(cfg).wait_mean.mean, a.wait_mean.mean);
}

TEST(station_lab, single_replication_uses_batch_means) {
  station_lab_config cfg;
  cfg.arrival_rate = 0.5;
  cfg.station = {"s", 1, sim::distribution::exponential(1.0), 0};
  cfg.customers = 400'000;
  cfg.replications = 1;
  const auto r = run_station_lab(cfg);
  EXPECT_GT(r.wait_mean.half_width, 0.0);
  EXPECT_TRUE(r.wait_mean.contains(1.0)) << r.wait_mean.mean << " ± " << r.wait_mean.half_width;
}

// Jackson: three M/M/1 stations in series, each sees a Poisson stream at rate λ, so the mean
// total wait is the sum of the three M/M/1 waits.
TEST(station_network, jackson_tandem_of_three_matches_product_form) {
  const double lambda = 0.6;
  const std::vector<double> mus{1.0, 0.8, 1.2};
  double theory = 0;
  for (double mu : mus) theory += mm1(lambda, mu).wait_mean;

  std::vector<double> replication_means;
  for (int rep = 0; rep < 10; ++rep) {
    const sim::random_streams streams = sim::random_streams(99).fork(std::to_string(rep));
    sim::simulator sim;
    std::vector<std::unique_ptr<station>> stations;
    for (std::size_t i = 0; i < mus.size(); ++i) {
      stations.push_back(std::make_unique<station>(
          sim, station_config{fmt::format("s{}", i), 1, sim::distribution::exponential(1.0 / mus[i]), 0},
          streams.stream(fmt::format("service-{}", i))));
    }
    for (std::size_t i = 0; i + 1 < stations.size(); ++i) {
      station* next = stations[i + 1].get();
      stations[i]->on_departure([next](const job& j) { next->arrive(j); });
    }
    auto arrivals = sim::arrival_process::poisson(lambda);
    auto rng = streams.stream("arrivals");
    std::uint64_t id = 0;
    constexpr std::uint64_t warmup = 10'000, customers = 200'000;
    std::function<void()> arrive = [&] {
      stations.front()->arrive(job{id, sim.now(), sim.now(), {}, id >= warmup});
      if (++id < warmup + customers) sim.at(arrivals.next(rng), arrive);
    };
    sim.at(arrivals.next(rng), arrive);
    sim.run();
    double total_wait = 0;
    for (const auto& st : stations) total_wait += st->wait_tally().mean();
    replication_means.push_back(total_wait);
  }
  const auto ci = sim::confidence_interval(replication_means);
  EXPECT_TRUE(ci.contains(theory)) << ci.mean << " ± " << ci.half_width << " vs " << theory;
  EXPECT_LT(ci.relative(), 0.02);
}

}  // namespace
}  // namespace mqlab::models
