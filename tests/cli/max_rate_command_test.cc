// `mqlab max-rate` end to end: over the real network the search finds a rate no higher than
// what the consumers can serve (c x mu, plus the tolerance), and bad flags exit 2 naming them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_command.h"

namespace mqlab {
namespace {

using testing_support::run_mqlab;

// Two consumers of 4 ms each, one message at a time: at most 500 messages a second.
const char* pool = R"(name: pool
duration: 3s
warmup: 1s
profile: ideal
arrivals: {process: poisson, rate: 100/s}
pipeline: [{publish: {routing_key: jobs}}]
consumers: {name: workers, queue: jobs, count: 2, prefetch: 1, service: 4ms}
)";

std::string pool_file() { return testing_support::write_file("max-rate-pool.yaml", pool); }

TEST(max_rate_command, over_the_network_the_answer_is_below_what_the_consumers_can_serve) {
  auto r = run_mqlab("max-rate " + pool_file() + " --from 100 --to 800 --resolution 5% --mode net --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const double found = j["max_rate"].get<double>();
  // Each message also waits a round trip for its ack before the next is delivered (prefetch 1),
  // so the network sustains less than 2 / 4 ms; the search may pass 2% over.
  EXPECT_LE(found, 500 * 1.02 * 1.05);
  EXPECT_GE(found, 250);
  EXPECT_EQ(j["per_search"].size(), 1u) << "one search over the network";
  EXPECT_TRUE(j["probes"][0]["keeps_up"].get<bool>());
}

TEST(max_rate_command, bad_flags_exit_2_naming_the_flag) {
  const auto path = pool_file();
  auto bad_share = run_mqlab("max-rate " + path + " --from 100 --resolution lots");
  EXPECT_EQ(bad_share.exit_code, 2);
  EXPECT_NE(bad_share.err.find("--resolution lots: expected a positive share such as 2% or 0.02"), std::string::npos)
      << bad_share.err;
  auto bad_mode = run_mqlab("max-rate " + path + " --from 100 --mode carrier-pigeon");
  EXPECT_EQ(bad_mode.exit_code, 2);
  EXPECT_NE(bad_mode.err.find("--mode carrier-pigeon: expected sim or net"), std::string::npos) << bad_mode.err;
  auto not_a_bracket = run_mqlab("max-rate " + path + " --from 100 --to 200");
  EXPECT_EQ(not_a_bracket.exit_code, 2);
  EXPECT_NE(not_a_bracket.err.find("keeps up at the highest rate, 200/s"), std::string::npos) << not_a_bracket.err;
  EXPECT_EQ(run_mqlab("max-rate " + path).exit_code, 2) << "--from is required";
}

}  // namespace
}  // namespace mqlab
