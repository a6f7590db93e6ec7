// The maximum-sustainable-rate finder against queueing theory: a queue whose consumers serve
// c x mu messages a second at most sustains an offered rate of c x mu (the stability condition
// rho = lambda / (c mu) < 1), whatever the service distribution; above it the backlog grows
// by (lambda - c mu) a second and the judge says so.
#include "workbench/max_rate.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace mqlab::workbench {
namespace {

std::string write_scenario(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// Two consumers of 4 ms each, one message at a time: 2 x 250 = 500 messages a second.
const char* pool = R"(name: pool
duration: 60s
warmup: 5s
seed: 3
profile: ideal
arrivals: {process: poisson, rate: 100/s}
pipeline: [{publish: {routing_key: jobs}}]
consumers: {name: workers, queue: jobs, count: 2, prefetch: 1, service: {dist: exp, mean: 4ms}}
variants:
  exponential: {}
  constant: {consumers: {name: workers, queue: jobs, count: 2, prefetch: 1, service: 4ms}}
)";

TEST(max_rate, a_pool_sustains_its_service_capacity_and_no_more) {
  const auto path = write_scenario("pool.yaml", pool);
  for (const char* variant : {"exponential", "constant"}) {
    max_rate_request r{.file = path, .variant = variant, .low = 100, .replications = 3};
    std::vector<rate_probe> seen;
    const auto found = find_max_rate(r, [&](const rate_probe& p) { seen.push_back(p); });
    ASSERT_TRUE(found) << found.error();
    ASSERT_EQ(found->per_replication.size(), 3u);
    // Bisection stops within 2% of the bracket; the 2% tolerance lets up to ~2% overload through.
    for (double best : found->per_replication) {
      EXPECT_GT(best, 500 * 0.93) << variant;
      EXPECT_LT(best, 500 * 1.05) << variant;
    }
    EXPECT_NEAR(found->mean, 500, 500 * 0.05) << variant;
    EXPECT_EQ(found->probes.size(), seen.size());
    // Every probe far above capacity fell behind, every one well below kept up.
    for (const auto& p : seen) {
      if (p.rate >= 550) {
        EXPECT_FALSE(p.keeps_up) << p.rate;
      } else if (p.rate <= 450) {
        EXPECT_TRUE(p.keeps_up) << p.rate;
      }
    }
  }
}

TEST(max_rate, the_judge_measures_backlog_growth_over_the_window_against_the_offer) {
  variant_result v;
  v.metrics["requests"] = {1000, 0};
  v.metrics["completed"] = {1000, 0};
  // Sampled at 1 s, 2 s, ...: the warmup ends at 2 s with 40 queued; 90 at the end.
  v.series["queue.jobs.depth"] = {20, 40, 60, 90};
  v.series["throughput"] = {500, 500, 500, 500};  // not a backlog
  const rate_probe p = judge_rate(v, 500, 2, 1, 0.02);
  EXPECT_DOUBLE_EQ(p.backlog_growth, 50.0 / 1000);
  EXPECT_FALSE(p.keeps_up);
  v.series["queue.jobs.depth"] = {20, 40, 45, 55};
  EXPECT_TRUE(judge_rate(v, 500, 2, 1, 0.02).keeps_up);
  v.metrics["completed"] = {970, 0};  // the producers fell behind
  EXPECT_FALSE(judge_rate(v, 500, 2, 1, 0.02).keeps_up);
}

TEST(max_rate, a_bracket_that_does_not_bracket_is_refused_with_the_reason) {
  const auto path = write_scenario("pool-bracket.yaml", pool);
  const auto high = find_max_rate({.file = path, .low = 100, .high = 200, .replications = 1});
  ASSERT_FALSE(high);
  EXPECT_EQ(high.error(), "the variant keeps up at the highest rate, 200/s: raise --to");
  const auto low = find_max_rate({.file = path, .low = 900, .replications = 1});
  ASSERT_FALSE(low);
  EXPECT_EQ(low.error(), "the variant does not keep up at the lowest rate, 900/s");
  EXPECT_FALSE(find_max_rate({.file = path, .low = 0}));
  // Nothing queues behind a pure delay: the doubling stops at 2^20 times the start.
  const auto endless = write_scenario("pool-endless.yaml", R"(name: endless
duration: 10s
profile: ideal
arrivals: {process: poisson, rate: 1/s}
pipeline: [{delay: 1ms}]
)");
  const auto none = find_max_rate({.file = endless, .low = 0.001, .replications = 1});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), "the variant kept up at every rate up to 1048.576/s");
  EXPECT_FALSE(find_max_rate({.file = path, .variant = "no-such", .low = 100}));
}

}  // namespace
}  // namespace mqlab::workbench
