// `mqlab plan` end to end on lab 15 (shortened): the answer, the JSON a script reads, and the
// exit codes: 1 when no value in the range meets the objectives, 2 for what cannot be run.
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

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
  // Lab 1 has no plan: of its own to fall back on.
  const std::string lab1 = std::string(MQLAB_SCENARIOS_DIR) + "/01-async-registration.yaml";
  auto neither = run_mqlab("plan " + lab1 + " --slo 'async.e2e.p99<=1s'");
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("give one of --minimize and --max-rate (or a plan: in the scenario)"), std::string::npos)
      << neither.err;
  auto no_slo = run_mqlab("plan " + lab1 + " --minimize consumers.count=1..4");
  EXPECT_EQ(no_slo.exit_code, 2);
  EXPECT_NE(no_slo.err.find("give --slo METRIC<=VALUE"), std::string::npos) << no_slo.err;
  EXPECT_EQ(run_mqlab("plan " + lab15 + " --minimize variants.c10.consumers.count=8..14 --max-rate 100..500 "
                      "--slo 'c10.e2e.p99<=1s'").exit_code, 2);
}

TEST(plan_command, lab_15s_walkthrough_gives_the_answers_its_description_states) {
  // Step 3: the file's own plan: (6..20, p99 <= 110 ms), bisected 20, 13, 9, 11, 10.
  auto own = run_mqlab("plan " + lab15 + " --json");
  ASSERT_EQ(own.exit_code, 0) << own.err;
  const auto j = nlohmann::json::parse(own.out);
  EXPECT_EQ(j["answer"], 10);
  std::vector<int> probed;
  for (const auto& p : j["probes"]) probed.push_back(p["value"].get<int>());
  EXPECT_EQ(probed, (std::vector<int>{20, 13, 9, 11, 10}));
  EXPECT_NEAR(j["confidence"]["neighbour"]["checks"][0]["mean"].get<double>(), 0.127, 0.005) << "9 misses at about 127 ms";
  // Step 4: the same mean work with a coefficient of variation of 3.
  const std::string h2 = " --set 'variants.c10.consumers.service={dist: hyperexp, mean: 20ms, cv: 3}'";
  auto p99 = run_mqlab("plan " + lab15 + h2);
  EXPECT_EQ(p99.exit_code, 1) << "no count meets the p99 objective: " << p99.out;
  auto mean = [&](const std::string& extra) {
    auto r = run_mqlab("plan " + lab15 + " --slo 'c10.e2e.mean<=30ms' --json" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out)["answer"];
  };
  EXPECT_EQ(mean(h2), 11);
  EXPECT_EQ(mean(""), 10) << "exponential work";
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
