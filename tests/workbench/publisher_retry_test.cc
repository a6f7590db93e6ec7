// Publishers that wait for confirms and publish again (Spring's RabbitTemplate retry with a
// ConfirmCallback): the backoff schedule, giving up, and a confirm timeout that sends copies.
#include <gtest/gtest.h>

#include <string>

#include "models/system.h"
#include "workbench/runner.h"

namespace mqlab::workbench {
namespace {

// One publish at t = 30 s (deterministic arrivals, two a minute) to a queue whose owner,
// node 0, is down from 10 s to 40 s; the producer and the consumer are on node 1.
std::string outage(const std::string& retry) {
  return R"(name: outage
duration: 50s
arrivals: {process: deterministic, rate: 2/min}
profile: ideal
producer: {node: 1}
pipeline: [{publish: {routing_key: orders, confirm: true, retry: )" +
         retry + R"(}}]
consumers: {name: workers, queue: orders, count: 1, node: 1, service: 1ms}
faults:
  - {at: 10s, crash: node-0}
  - {at: 40s, restart: node-0}
broker: {cluster: {nodes: 2, mode: normal}, queues: {orders: {durable: true}}}
)";
}

std::map<std::string, double> metrics_of(const std::string& yaml) {
  auto sc = parse_scenario(yaml);
  EXPECT_TRUE(sc.has_value()) << (sc ? "" : sc.error().format("test.yaml"));
  if (!sc) return {};
  const run_result r = run_scenario(*sc);
  std::map<std::string, double> out;
  for (const auto& [key, m] : r.variants.at(0).metrics) out[key] = m.mean;
  return out;
}

TEST(publisher_retry, backoff_doubles_from_the_initial_interval_up_to_the_cap) {
  const models::retry_policy p{.max_attempts = 10, .initial_interval = sim::duration::seconds(1), .multiplier = 2,
                               .max_interval = sim::duration::seconds(4)};
  EXPECT_EQ(p.backoff(1), sim::duration::seconds(1));
  EXPECT_EQ(p.backoff(2), sim::duration::seconds(2));
  EXPECT_EQ(p.backoff(3), sim::duration::seconds(4));
  EXPECT_EQ(p.backoff(9), sim::duration::seconds(4));
  const models::retry_policy fixed{};  // Spring Boot's defaults: 1 s, multiplier 1
  EXPECT_EQ(fixed.backoff(5), sim::duration::seconds(1));
}

TEST(publisher_retry, nacked_publishes_are_tried_again_until_the_queue_is_back) {
  // Nacked at 30, 31, 33 and 37 s (waits 1, 2, 4 and, capped, 4 s); the try at 41 s is confirmed.
  auto m = metrics_of(outage("{max_attempts: 10, initial_interval: 1s, multiplier: 2, max_interval: 4s}"));
  EXPECT_EQ(m["publish.nacked"], 4);
  EXPECT_EQ(m["publish.retries"], 4);
  EXPECT_EQ(m["refused_publishes"], 4);
  EXPECT_DOUBLE_EQ(m["response.mean"], 11.0);
  EXPECT_EQ(m["completed"], 1);
  EXPECT_EQ(m["consumed"], 1);
  EXPECT_EQ(m["lost"], 0);
  EXPECT_EQ(m["publish.gave_up"], 0);
}

TEST(publisher_retry, a_publisher_out_of_attempts_gives_up_and_the_message_is_lost) {
  // Tries at 30, 31 and 33 s, all nacked: the third is the last.
  auto m = metrics_of(outage("{max_attempts: 3, initial_interval: 1s, multiplier: 2}"));
  EXPECT_EQ(m["publish.nacked"], 3);
  EXPECT_EQ(m["publish.retries"], 2);
  EXPECT_EQ(m["publish.gave_up"], 1);
  EXPECT_EQ(m["lost"], 1);
  EXPECT_EQ(m["consumed"], 0);
  EXPECT_DOUBLE_EQ(m["response.mean"], 3.0);
}

TEST(publisher_retry, a_confirm_slower_than_the_timeout_sends_copies_that_all_arrive) {
  // A persistent message's confirm waits for a 1 s fsync; the publisher gives each try 300 ms and
  // waits 100 ms between tries: three copies are written, and the late confirms change nothing.
  auto m = metrics_of(R"(name: slow-confirms
duration: 50s
arrivals: {process: deterministic, rate: 2/min}
broker: {queues: {orders: {durable: true}}, node: {disk: {fsync: 1s}}}
pipeline: [{publish: {routing_key: orders, persistent: true, confirm: true, confirm_timeout: 300ms,
                      retry: {max_attempts: 3, initial_interval: 100ms}}}]
consumers: {name: workers, queue: orders, count: 1, service: 1ms}
)");
  EXPECT_EQ(m["publish.timeouts"], 3);
  EXPECT_EQ(m["publish.nacked"], 0);
  EXPECT_EQ(m["publish.gave_up"], 1);
  EXPECT_EQ(m["lost"], 0) << "a timed-out message may well be there";
  EXPECT_EQ(m["published"], 3);
  EXPECT_EQ(m["consumer.workers.duplicates"], 2);
  EXPECT_NEAR(m["response.mean"], 1.1, 0.01);  // three timeouts and two waits
}

TEST(publisher_retry, retry_needs_confirms) {
  auto sc = parse_scenario(R"(name: x
arrivals: {rate: 1/s}
pipeline: [{publish: {routing_key: q, retry: {max_attempts: 2}}}]
)");
  ASSERT_FALSE(sc.has_value());
  EXPECT_NE(sc.error().format("x.yaml").find("retry needs confirm: true"), std::string::npos) << sc.error().format("x.yaml");
}

}  // namespace
}  // namespace mqlab::workbench
