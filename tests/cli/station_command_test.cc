// `mqlab station` end to end: JSON keys and values, the table, and bad input → exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.h"

namespace mqlab {
namespace {

using testing_support::run_mqlab;

TEST(station_command, json_has_the_documented_keys_and_matches_mm1_theory) {
  auto r = run_mqlab("station --arrival-rate 50 --service-rate 100 --customers 100000 --replications 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"wait_mean", "wait_mean_ci95", "wait_mean_theory", "response_mean", "utilization",
                          "block_prob", "block_prob_theory", "wait_p50", "wait_p99", "customers"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_DOUBLE_EQ(j["wait_mean_theory"].get<double>(), 0.01);  // ρ/(μ−λ) = 0.5/50
  EXPECT_NEAR(j["wait_mean"].get<double>(), 0.01, 4 * j["wait_mean_ci95"].get<double>());
  EXPECT_NEAR(j["utilization"].get<double>(), 0.5, 0.01);
  EXPECT_EQ(j["customers"].get<int>(), 400000);
  EXPECT_EQ(j["model"], "M/M/1");
}

TEST(station_command, theory_is_null_where_no_formula_applies) {
  auto r = run_mqlab("station --arrival-rate 2 --service-rate 1 --servers 3 --service-dist const --customers 2000 "
                     "--replications 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["wait_mean_theory"].is_null());
}

TEST(station_command, table_shows_simulated_and_theory) {
  auto r = run_mqlab("station --arrival-rate 8 --service-rate 10 --service-dist erlang:2 --customers 20000 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("M/E2/1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wait mean (Wq)"), std::string::npos);
  EXPECT_NE(r.out.find("theory"), std::string::npos);
}

struct bad_case {
  const char* args;
  const char* expected;  // text the one-line error must contain
};

class station_bad_input : public testing::TestWithParam<bad_case> {};

TEST_P(station_bad_input, names_the_flag_and_exits_2) {
  auto r = run_mqlab(std::string("station ") + GetParam().args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(GetParam().expected), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

INSTANTIATE_TEST_SUITE_P(
    cases, station_bad_input,
    testing::Values(bad_case{"--arrival-rate 120 --service-rate 100", "--arrival-rate: utilisation"},
                    bad_case{"--arrival-rate -5 --service-rate 100", "--arrival-rate: must be a positive"},
                    bad_case{"--arrival-rate 5 --service-rate 0", "--service-rate: must be a positive"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --service-dist weibull", "--service-dist: unknown"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --servers 0", "--servers"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --servers 4 --capacity 2", "--capacity"},
                    bad_case{"--arrival-rate abc --service-rate 10", "--arrival-rate"},
                    bad_case{"--service-rate 10", "--arrival-rate is required"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --bogus", "--bogus"},
                    // Inputs that used to run forever or abort now name their limit.
                    bad_case{"--arrival-rate 5 --service-rate 10 --replications 1000000", "--replications: must be from 1 to 10000"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --customers 1000000000000000000", "at most 1e+10 are simulated"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --customers 1000 --warmup 1000000000000", "--warmup:"},
                    bad_case{"--arrival-rate 5 --service-rate 10 --service-dist erlang:1000000000", "from 1 to 1000"}));

TEST(station_command, overloaded_station_with_capacity_is_fine) {
  auto r = run_mqlab("station --arrival-rate 150 --service-rate 100 --capacity 10 --customers 20000 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["block_prob"].get<double>(), 0.3);
  EXPECT_NEAR(j["block_prob"].get<double>(), j["block_prob_theory"].get<double>(), 0.02);
}

}  // namespace
}  // namespace mqlab
