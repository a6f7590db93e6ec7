// The capacity planner against queueing theory: on M/M/c pools (Poisson orders, exponential
// work, one message per consumer at a time) the smallest consumer count it finds for an e2e
// objective is the one Erlang C gives; objectives parse as a user writes them; a range in
// which nothing meets the objective has no answer.
#include "workbench/plan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "models/queueing_theory.h"
#include "workbench/runner.h"

namespace mqlab::workbench {
namespace {

namespace fs = std::filesystem;

TEST(plan, objectives_parse_with_durations_rates_and_every_relation) {
  const auto p99 = parse_slo("main.e2e.p99<=110ms");
  ASSERT_TRUE(p99) << p99.error();
  EXPECT_EQ(p99->metric, "main.e2e.p99");
  EXPECT_EQ(p99->relation, slo::op::le);
  EXPECT_DOUBLE_EQ(p99->bound, 0.110);
  const auto lost = parse_slo("main.lost == 0");
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->relation, slo::op::eq);
  EXPECT_EQ(parse_slo("main.throughput>390/s")->relation, slo::op::gt);
  EXPECT_DOUBLE_EQ(parse_slo("main.throughput>=390/s")->bound, 390);
  EXPECT_EQ(parse_slo("main.e2e.p99 110ms").error(), "--slo 'main.e2e.p99 110ms': expected METRIC<=VALUE (or <, >=, >, ==)");
  EXPECT_EQ(parse_slo("p99<=1ms").error(), "--slo 'p99<=1ms': the metric must be VARIANT.KEY, e.g. main.e2e.p99");
  EXPECT_EQ(parse_slo("main.e2e.p99<=soon").error(), "--slo 'main.e2e.p99<=soon': 'soon' is not a number, a duration or a rate");
}

/// A pool of consumers behind one queue: orders at `rate`/s, `service_ms` of work each,
/// exponential, or hyperexponential when its coefficient of variation `cv` is above 1.
fs::path pool(const fs::path& dir, double rate, double service_ms, double cv = 1) {
  const fs::path file = dir / fmt::format("pool-{}-{}-{}.yaml", rate, service_ms, cv);
  const std::string service = cv == 1 ? fmt::format("{{dist: exp, mean: {}ms}}", service_ms)
                                      : fmt::format("{{dist: hyperexp, mean: {}ms, cv: {}}}", service_ms, cv);
  std::ofstream(file) << fmt::format(R"(name: pool
duration: 300s
warmup: 20s
seed: 11
replications: 4
arrivals: {{process: poisson, rate: {}/s}}
pipeline: [{{publish: {{routing_key: orders}}}}]
consumers: {{name: workers, queue: orders, count: 1, prefetch: 1, service: {}}}
)",
                                     rate, service);
  return file;
}

/// Erlang C's smallest c whose e2e mean (quantile 0) or quantile meets `bound`.
std::int64_t erlang_c_answer(double rate, double service_ms, double quantile, double bound) {
  const double mu = 1000 / service_ms;
  for (int c = static_cast<int>(rate / mu) + 1;; ++c) {
    const auto m = models::mmc(rate, mu, c);
    if ((quantile == 0 ? m.response_mean : m.response_quantile(quantile)) <= bound) return c;
  }
}

struct mmc_case {
  double rate, service_ms;
  std::string metric;  // e2e.mean or e2e.pNN
  double quantile, bound;
};

TEST(plan, finds_the_consumer_count_erlang_c_gives) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-{}", ::getpid());
  fs::create_directories(dir);
  const mmc_case cases[] = {
      {400, 20, "e2e.p99", 0.99, 0.110},  // lab 15: c = 10, its p99 about 100 ms
      {100, 50, "e2e.mean", 0, 0.060},    // a = 5
      {30, 100, "e2e.p90", 0.90, 0.260},  // a = 3: M/M/5 predicts 249.9 ms
      {400, 20, "e2e.mean", 0, 0.0260},   // tight: M/M/10 predicts 25.1 ms, M/M/9 33.1 ms
  };
  for (const auto& k : cases) {
    const std::int64_t expected = erlang_c_answer(k.rate, k.service_ms, k.quantile, k.bound);
    plan_request request{.file = pool(dir, k.rate, k.service_ms).string(), .path = "consumers.count", .from = 1, .to = 40};
    request.objectives.push_back(*parse_slo(fmt::format("main.{}<={}", k.metric, k.bound)));
    const auto result = plan(request);
    ASSERT_TRUE(result) << result.error();
    SCOPED_TRACE(fmt::format("λ = {}, S = {} ms, {} <= {}", k.rate, k.service_ms, k.metric, k.bound));
    EXPECT_EQ(result->answer, expected);
    ASSERT_TRUE(result->theory);
    EXPECT_EQ(result->theory->answer, expected);
    EXPECT_TRUE(result->monotonicity.empty()) << result->monotonicity;
    EXPECT_LE(result->probes.size(), 8u) << "bisection over 1..40 needs about log2(40) probes";
  }
  fs::remove_all(dir);
}

TEST(plan, a_value_whose_metric_sits_on_the_bound_is_one_it_cannot_tell) {
  // M/M/5 predicts a p90 of 249.9 ms: 250 ms cannot be told apart from it, however many
  // replications, so the plan keeps to the next count, which surely meets it, and says why.
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-tight-{}", ::getpid());
  fs::create_directories(dir);
  plan_request request{.file = pool(dir, 30, 100).string(), .path = "consumers.count", .from = 4, .to = 8,
                       .max_replications = 16};
  request.objectives.push_back(*parse_slo("main.e2e.p90<=250ms"));
  const auto result = plan(request);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answer, 6);
  EXPECT_EQ(result->theory->answer, 5);
  const auto at5 = std::find_if(result->probes.begin(), result->probes.end(), [](const probe& p) { return p.value == 5; });
  ASSERT_NE(at5, result->probes.end());
  EXPECT_EQ(at5->outcome, verdict::cannot_tell);
  EXPECT_EQ(at5->replications, 16) << "replications doubled up to the maximum before giving up";
  EXPECT_LT(std::fabs(at5->checks[0].mean - 0.250), at5->checks[0].ci95);
  fs::remove_all(dir);
}

TEST(plan, the_highest_rate_ten_consumers_sustain_is_the_one_erlang_c_gives) {
  // 10 consumers of 20 ms each, e2e mean at most 30 ms: M/M/10 reaches 30 ms a little below
  // λ = 450/s. Bisection over integer rates ends within the noise of that.
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-rate-{}", ::getpid());
  fs::create_directories(dir);
  double lo = 1, hi = 499.9;  // M/M/10 at μ = 50/s is stable below 500/s
  for (int i = 0; i < 60; ++i) {
    const double mid = (lo + hi) / 2;
    (models::mmc(mid, 50, 10).response_mean <= 0.030 ? lo : hi) = mid;
  }
  plan_request request{.file = pool(dir, 100, 20).string(), .path = "arrivals.rate", .from = 100, .to = 499,
                       .maximize = true, .max_replications = 16};
  request.sets = {{"consumers.count", "10"}};
  request.objectives.push_back(*parse_slo("main.e2e.mean<=30ms"));
  const auto result = plan(request);
  ASSERT_TRUE(result) << result.error();
  ASSERT_TRUE(result->answer);
  EXPECT_NEAR(static_cast<double>(*result->answer), lo, 0.03 * lo) << "Erlang C: " << lo << "/s";
  EXPECT_EQ(result->neighbour, *result->answer + 1);
  EXPECT_TRUE(result->monotonicity.empty()) << result->monotonicity;
  fs::remove_all(dir);
}

TEST(plan, a_range_in_which_nothing_meets_the_objective_has_no_answer) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-none-{}", ::getpid());
  fs::create_directories(dir);
  plan_request request{.file = pool(dir, 400, 20).string(), .path = "consumers.count", .from = 2, .to = 6};
  request.objectives.push_back(*parse_slo("main.e2e.p99<=110ms"));
  const auto result = plan(request);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->answer, std::nullopt) << "6 consumers cannot keep up with 8 consumers' worth of orders";
  ASSERT_EQ(result->probes.size(), 1u);
  EXPECT_EQ(result->probes[0].value, 6);
  EXPECT_EQ(result->probes[0].outcome, verdict::misses);
  request.objectives = {*parse_slo("main.nothing<=1")};
  EXPECT_EQ(plan(request).error(), "--slo 'main.nothing<=1': the run has no metric main.nothing");
  fs::remove_all(dir);
}

TEST(plan, with_hyperexponential_work_it_agrees_with_a_long_simulation) {
  // No formula gives M/H2/c's wait exactly. The long simulation (ten times as long as a plan's
  // run, twice over) is the reference: its smallest count whose e2e mean meets the bound; below
  // 9 consumers the pool is unstable.
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-h2-{}", ::getpid());
  fs::create_directories(dir);
  const std::string file = pool(dir, 400, 20, 3).string();
  std::map<std::int64_t, double> long_run;
  for (std::int64_t c = 9; c <= 12; ++c) {
    auto sc = load_scenario(file, {{"consumers.count", std::to_string(c)}, {"duration", "3000s"}, {"replications", "2"}});
    ASSERT_TRUE(sc);
    long_run[c] = find_metric(run_scenario(*sc).variants, "main.e2e.mean")->mean;
  }
  for (const double bound : {0.030, 0.024}) {
    const auto reference = std::find_if(long_run.begin(), long_run.end(), [&](const auto& kv) { return kv.second <= bound; });
    ASSERT_NE(reference, long_run.end());
    plan_request request{.file = file, .path = "consumers.count", .from = 1, .to = 40};
    request.objectives.push_back(*parse_slo(fmt::format("main.e2e.mean<={}", bound)));
    const auto result = plan(request);
    ASSERT_TRUE(result) << result.error();
    EXPECT_EQ(result->answer, reference->first) << "bound " << bound << "; long-run means: " << fmt::format("{}", long_run);
    EXPECT_FALSE(result->theory) << "M/M/c does not apply to hyperexponential work";
  }
  fs::remove_all(dir);
}

TEST(plan, in_slices_it_probes_the_whole_grid_and_reaches_the_bisections_answer) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-slices-{}", ::getpid());
  fs::create_directories(dir);
  plan_request request{.file = pool(dir, 400, 20).string(), .path = "consumers.count", .from = 7, .to = 16, .step = 3};
  request.objectives.push_back(*parse_slo("main.e2e.p99<=110ms"));
  EXPECT_EQ(grid(request), (std::vector<std::int64_t>{7, 10, 13, 16}));
  const auto bisected = plan(request);
  ASSERT_TRUE(bisected) << bisected.error();
  EXPECT_EQ(bisected->answer, 10) << "Erlang C's 10 lies on the grid";
  std::vector<probe> all;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto slice = probe_slice(request, i, 3);
    ASSERT_TRUE(slice) << slice.error();
    EXPECT_EQ(slice->size(), i == 0 ? 2u : 1u) << "slice " << i << " of 3 over 4 values";
    all.insert(all.end(), slice->begin(), slice->end());
  }
  const auto joined = conclude(request, all);
  ASSERT_TRUE(joined) << joined.error();
  EXPECT_EQ(joined->answer, 10);
  EXPECT_EQ(joined->neighbour, 7);
  EXPECT_EQ(joined->probes.size(), 4u);
  EXPECT_EQ(joined->theory->answer, 10);
  all.pop_back();
  EXPECT_FALSE(conclude(request, all)) << "a value of the grid was not probed";
  fs::remove_all(dir);
}

TEST(plan, over_the_whole_grid_the_answer_is_where_every_larger_value_meets) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("mqlab-plan-grid-{}", ::getpid());
  fs::create_directories(dir);
  plan_request request{.file = pool(dir, 400, 20).string(), .path = "consumers.count", .from = 1, .to = 4};
  request.objectives.push_back(*parse_slo("main.e2e.p99<=110ms"));
  auto probed = [](std::int64_t value, verdict v) { return probe{value, 4, v, {{0.1, 0.01, v}}}; };
  const auto joined = conclude(request, {probed(4, verdict::meets), probed(1, verdict::misses), probed(2, verdict::meets),
                                         probed(3, verdict::misses)});
  ASSERT_TRUE(joined) << joined.error();
  EXPECT_EQ(joined->answer, 4) << "2 meets, but 3 above it misses";
  EXPECT_EQ(joined->neighbour, 3);
  EXPECT_NE(joined->monotonicity.find("not monotone: 2 meets every objective but 3 misses one"), std::string::npos)
      << joined->monotonicity;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mqlab::workbench
