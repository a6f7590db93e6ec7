// `mqlab plan` end to end on lab 15 (shortened): the answer, the JSON a script reads, and the
// exit codes: 1 when no value in the range meets the objectives, 2 for what cannot be run.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "run_command.h"

namespace mqlab {
namespace {

using testing_support::run_mqlab;

const std::string lab15 = std::string(MQLAB_SCENARIOS_DIR) + "/15-capacity-planning.yaml";

TEST(plan_command, lab_15_needs_ten_consumers_and_says_so_in_json) {
  auto r = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --slo 'c10.e2e.p99<=110ms' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["answer"], 10);
  EXPECT_EQ(j["prediction"]["answer"], 10) << "Erlang C agrees";
  EXPECT_EQ(j["confidence"]["level"], 0.95);
  EXPECT_EQ(j["confidence"]["at_answer"]["verdict"], "meets");
  EXPECT_EQ(j["direction"], "minimize");
  EXPECT_EQ(j["confidence"]["neighbour"]["value"], 9);
  EXPECT_EQ(j["confidence"]["neighbour"]["verdict"], "misses");
  EXPECT_GE(j["probes"].size(), 3u);
  for (const auto& p : j["probes"]) EXPECT_EQ(p["checks"][0]["slo"], "c10.e2e.p99<=110ms");
}

TEST(plan_command, the_table_shows_each_probe_then_the_answer_and_its_neighbour) {
  auto r = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --slo 'c10.e2e.p99<=110ms'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("probe variants.c10.consumers.count=14: meets"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("answer: variants.c10.consumers.count=10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("below it, variants.c10.consumers.count=9: misses"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prediction (M/M/c with λ = 400/s, μ = 50/s per consumer"), std::string::npos) << r.out;
}

TEST(plan_command, the_highest_rate_ten_consumers_sustain_under_the_p99_objective) {
  // c10 has 10 consumers of 20 ms: at 400/s its p99 is about 100 ms, at 450/s far above 110 ms.
  auto r = run_mqlab("plan " + lab15 + " --max-rate variants.c10.arrivals.rate=300..480 --slo 'c10.e2e.p99<=110ms' "
                     "--max-replications 8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["direction"], "maximize");
  EXPECT_GE(j["answer"].get<int>(), 400);
  EXPECT_LT(j["answer"].get<int>(), 450);
  EXPECT_EQ(j["confidence"]["neighbour"]["value"], j["answer"].get<int>() + 1);
}

TEST(plan_command, no_value_meeting_the_objective_exits_1_and_bad_input_2) {
  auto none = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..9 --slo 'c10.e2e.p99<=110ms' --json");
  EXPECT_EQ(none.exit_code, 1) << none.err;
  EXPECT_TRUE(nlohmann::json::parse(none.out)["answer"].is_null());
  auto syntax = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --slo 'c10.e2e.p99 110ms'");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_NE(syntax.err.find("expected METRIC<=VALUE"), std::string::npos) << syntax.err;
  auto metric = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --slo 'c10.latency<=1s'");
  EXPECT_EQ(metric.exit_code, 2);
  EXPECT_NE(metric.err.find("the run has no metric c10.latency"), std::string::npos) << metric.err;
  auto range = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=14..8 --slo 'c10.e2e.p99<=1s'");
  EXPECT_EQ(range.exit_code, 2);
  EXPECT_NE(range.err.find("expected PATH=FROM..TO"), std::string::npos) << range.err;
  auto field = run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.cnt=8..14 --slo 'c10.e2e.p99<=1s'");
  EXPECT_EQ(field.exit_code, 2) << field.err;
  auto neither = run_mqlab("plan " + lab15 + " --slo 'c10.e2e.p99<=1s'");
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("give one of --minimize and --max-rate"), std::string::npos) << neither.err;
  EXPECT_EQ(run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --max-rate 100..500 "
                      "--slo 'c10.e2e.p99<=1s'").exit_code, 2);
}

TEST(plan_command, three_shards_probe_the_grid_and_merge_gives_the_answer) {
  const std::string plan = "plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --slo 'c10.e2e.p99<=110ms'";
  const auto dir = ::testing::TempDir() + "/plan-shards";
  std::filesystem::remove_all(dir);
  for (int i = 1; i <= 3; ++i) {
    auto part = run_mqlab(plan + " --shard " + std::to_string(i) + "/3 --out " + dir + "/" + std::to_string(i));
    ASSERT_EQ(part.exit_code, 0) << part.err;
    EXPECT_NE(part.out.find("shard " + std::to_string(i) + " of 3: "), std::string::npos) << part.out;
  }
  auto merged = run_mqlab("merge " + dir + "/1 " + dir + "/2 " + dir + "/3 --json");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  const auto j = nlohmann::json::parse(merged.out);
  EXPECT_EQ(j["answer"], 10);
  EXPECT_EQ(j["probes"].size(), 7u) << "every count of 8..14, not a bisection's few";
  EXPECT_EQ(j["confidence"]["neighbour"]["value"], 9);
  EXPECT_EQ(j["prediction"]["answer"], 10);
  auto text = run_mqlab("merge " + dir + "/1 " + dir + "/2 " + dir + "/3");
  EXPECT_NE(text.out.find("answer: variants.c10.consumers.count=10"), std::string::npos) << text.out;
  auto missing = run_mqlab("merge " + dir + "/1 " + dir + "/3");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("shard 2 of 3 is missing"), std::string::npos) << missing.err;
  auto no_out = run_mqlab(plan + " --shard 1/3");
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.err.find("give --out"), std::string::npos) << no_out.err;
}

}  // namespace
}  // namespace mqlab
