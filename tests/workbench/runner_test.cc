// Running scenarios: determinism, agreement with queueing theory, expectations.
#include "workbench/runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <fmt/format.h>

#include "models/queueing_theory.h"
#include "workbench/results.h"

namespace mqlab::workbench {
namespace {

// An M/M/2 station as a scenario: the workbench's result must agree with Erlang C.
const char* mm2 = R"(name: mm2
duration: 2000s
warmup: 50s
seed: 4
replications: 4
arrivals: {process: poisson, rate: 160/s}
stations:
  server: {servers: 2, service: {dist: exp, mean: 10ms}}
pipeline: [server]
expect:
  - {metric: main.response.mean, max: 1s}
  - {metric: main.response.mean, min: 10s}
)";

TEST(runner, a_scenario_station_agrees_with_erlang_c) {
  auto sc = parse_scenario(mm2);
  ASSERT_TRUE(sc.has_value()) << sc.error().format("mm2");
  const auto r = run_scenario(*sc);
  const auto theory = models::mmc(160, 100, 2);
  const auto& m = r.variants[0].metrics.at("response.mean");
  EXPECT_NEAR(m.mean, theory.response_mean, std::max(2 * m.ci95, 0.02 * theory.response_mean))
      << "sim " << m.mean << " ± " << m.ci95 << " theory " << theory.response_mean;
  EXPECT_NEAR(r.variants[0].metrics.at("station.server.utilization").mean, 0.8, 0.01);
  // The first expectation holds, the second cannot.
  ASSERT_EQ(r.expectations.size(), 2u);
  EXPECT_TRUE(r.expectations[0].passed);
  EXPECT_FALSE(r.expectations[1].passed);
  EXPECT_FALSE(r.all_passed());
}

/// One Kafka broker with one partition read by one consumer (`group` adds its settings), a
/// producer of single-record acks=1 requests at `rate`, and `top` added at the top level: the
/// metrics of 10 s after 1 s of warm-up.
std::map<std::string, metric_value> one_partition(const std::string& rate, const std::string& top, const std::string& group) {
  auto sc = parse_scenario(fmt::format(R"(name: one-partition
duration: 11s
warmup: 1s
seed: 3
arrivals: {{process: poisson, rate: {}}}
{}
kafka:
  brokers: 1
  topics: {{events: {{partitions: 1}}}}
  groups: [{{group: readers, topic: events, count: 1, service: 0s{}}}]
pipeline: [{{produce: {{topic: events, acks: 1, linger: 0s}}}}]
)", rate, top, group));
  EXPECT_TRUE(sc.has_value()) << sc.error().format("one-partition");
  return sc ? run_scenario(*sc).variants[0].metrics : std::map<std::string, metric_value>{};
}

// Kafka's consumers long-poll: a fetch that finds nothing waits at the leader (fetch.min.bytes 1,
// fetch.max.wait.ms 500) and leaves as soon as a record is below the high watermark. With 1 ms
// links a record then reaches its consumer two link crossings after it was produced, as the
// producer's acks=1 answer does, whatever the consumer's poll_interval (ideal profile only).
TEST(runner, a_kafka_consumers_fetch_waits_at_the_leader_for_the_next_record) {
  const auto m = one_partition("50/s", "links: {client: {latency: 1ms}}", ", poll_interval: 50ms");
  ASSERT_TRUE(m.contains("e2e.p50"));
  EXPECT_NEAR(m.at("e2e.p50").mean, 2e-3, 0.1e-3);
  EXPECT_NEAR(m.at("response.p50").mean, 2e-3, 0.1e-3);
  // At worst a record comes just after the fetch left with the previous one, and waits for that
  // answer to cross, the consumer's commitSync (a round trip) and the next fetch to cross: 4 ms
  // more, never a poll interval.
  EXPECT_LT(m.at("e2e.max").mean, 6.2e-3);
}

// Kafka's clients on one core, 1 us of CPU a record (half producing it, half consuming it)
// and 20 us a request: produced one record a request at 2 000 records/s, the host is busy
// 2 000 x (1 us + 20 us for the produce request) plus 20 us for each fetch's answer, of which
// there are at most one a record (and two a second that time out empty), and for each answer
// to the commit after a poll that brought records.
TEST(runner, kafka_clients_spend_their_cpu_per_record_and_per_request) {
  const auto m = one_partition("2000/s", "clients: {cores: 1, kafka: {record: 1us, request: 20us}}", "");
  ASSERT_TRUE(m.contains("kafka.clients.cpu"));
  const double busy = m.at("kafka.clients.cpu").mean;
  EXPECT_GT(busy, 2000 * 21e-6 * 0.97);
  EXPECT_LT(busy, (2000 * 21e-6 + 2002 * 20e-6 + 2000 * 20e-6) * 1.03);
}

// The broker reads each request off its connection (5 us a read here) and takes each command in
// (10 us a frame): a produce request is both, a consumer's fetch a read, a commit after each
// poll both. At 2 000 single-record requests a second, without commits the broker spends
// 15 us a record and 5 us a fetch (at most one a record); committing after each poll it spends
// 20 us a poll on top of the produce requests (a poll brings at least a record), and more than
// without commits, though the commit's round trip lets a poll bring more records.
TEST(runner, a_kafka_broker_reads_every_request_and_takes_in_every_commit) {
  const auto profile = std::filesystem::path(::testing::TempDir()) / "kafka-reads.yaml";
  std::ofstream(profile) << "name: kafka-reads\nnode: {cores: 1}\n"
                            "kafka: {frame: {ns: 10000, source: a test}, socket_read: {ns: 5000, source: a test}}\n";
  const std::string top = "profile: " + profile.string();
  const auto polled = one_partition("2000/s", top, ", commit: poll");
  const auto automatic = one_partition("2000/s", top, ", commit: auto");
  ASSERT_TRUE(polled.contains("servers.cpu") && automatic.contains("servers.cpu"));
  const double produce = 2000 * 15e-6;
  EXPECT_GT(automatic.at("servers.cpu").mean, produce * 0.97);
  EXPECT_LT(automatic.at("servers.cpu").mean, (produce + 2002 * 5e-6) * 1.03);
  EXPECT_LT(polled.at("servers.cpu").mean, (produce + 2002 * 20e-6) * 1.03);
  EXPECT_GT(polled.at("servers.cpu").mean - automatic.at("servers.cpu").mean, 2000 * 15e-6 * 0.5);
  std::filesystem::remove(profile);
}

/// One AMQP queue on a one-core node charging 10 us a frame and 5 us a settled delivery, fed
/// 2 000 messages a second and drained by one consumer with prefetch 100 whose acks go out
/// once every `ack_every` messages: the metrics of 10 s after 1 s of warm-up.
std::map<std::string, metric_value> acked_every(int ack_every) {
  const auto profile = std::filesystem::path(::testing::TempDir()) / "amqp-acks.yaml";
  std::ofstream(profile) << "name: amqp-acks\nnode: {cores: 1}\n"
                            "amqp: {frame: {ns: 10000, source: a test}, ack: {ns: 5000, source: a test}}\n";
  auto sc = parse_scenario(fmt::format(R"(name: acked-every
duration: 11s
warmup: 1s
seed: 3
profile: {}
arrivals: {{process: deterministic, rate: 2000/s}}
pipeline: [{{publish: {{routing_key: jobs, bytes: 100}}}}]
consumers: {{queue: jobs, prefetch: 100, ack_every: {}, service: 0s}}
)", profile.string(), ack_every));
  EXPECT_TRUE(sc.has_value()) << sc.error().format("acked-every");
  auto m = sc ? run_scenario(*sc).variants[0].metrics : std::map<std::string, metric_value>{};
  std::filesystem::remove(profile);
  return m;
}

// RabbitMQ's queue settles every delivery however it is acknowledged; a multiple ack saves the
// frames. Acking each message the node spends 2 000 x (publish, delivery and ack frames + the
// settling) = 2 000 x 35 us a second; acking 50 at a time, one ack frame serves 50 messages.
TEST(runner, a_consumer_acking_fifty_at_a_time_sends_one_frame_for_fifty) {
  const auto each = acked_every(1), batched = acked_every(50);
  ASSERT_TRUE(each.contains("node.0.cpu") && batched.contains("node.0.cpu"));
  EXPECT_NEAR(each.at("node.0.cpu").mean, 2000 * 35e-6, 2000 * 35e-6 * 0.03);
  EXPECT_NEAR(batched.at("node.0.cpu").mean, 2000 * (25e-6 + 10e-6 / 50), 2000 * 25.2e-6 * 0.03);
  // Each ack settles the 49 deliveries before it too: the queue never holds much more than a
  // batch. Were only the tagged delivery settled, the prefetch window would fill and the queue grow.
  EXPECT_LE(batched.at("queue.jobs.max_depth").mean, 50 + 5);
  EXPECT_GE(batched.at("queue.jobs.max_depth").mean, 49);
  EXPECT_GE(batched.at("consumed").mean, 2000 * 10 * 0.99);
}

TEST(runner, same_seed_gives_identical_results_json) {
  auto sc = parse_scenario(mm2, {{"duration", "100s"}, {"warmup", "5s"}});
  ASSERT_TRUE(sc.has_value());
  const auto a = to_json(*sc, run_scenario(*sc)).dump();
  const auto b = to_json(*sc, run_scenario(*sc)).dump();
  EXPECT_EQ(a, b);
  sc->seed = 5;
  EXPECT_NE(to_json(*sc, run_scenario(*sc)).dump(), a);
}

TEST(runner, live_results_grow_while_a_variant_runs) {
  auto sc = parse_scenario(mm2, {{"duration", "50s"}, {"warmup", "1s"}, {"replications", "2"}});
  ASSERT_TRUE(sc.has_value());
  std::vector<std::size_t> lengths;
  const auto r = run_scenario(*sc, {}, nullptr, [&](std::size_t variant, const variant_result& partial) {
    EXPECT_EQ(variant, 0u);
    auto it = partial.series.find("throughput");  // absent before the first sample interval ends
    lengths.push_back(it == partial.series.end() ? 0 : it->second.size());
  });
  ASSERT_GE(lengths.size(), 90u);  // every 1% of simulated time, from the first replication only
  EXPECT_TRUE(std::is_sorted(lengths.begin(), lengths.end()));
  EXPECT_LT(lengths.front(), lengths.back());
  EXPECT_EQ(r.variants[0].series.at("throughput").size(), 50u);
}

TEST(runner, unknown_metric_fails_the_expectation) {
  auto sc = parse_scenario(std::string(mm2) + "  - {metric: main.no_such_thing, max: 1}\n", {{"duration", "10s"}, {"warmup", "1s"}});
  ASSERT_TRUE(sc.has_value());
  const auto r = run_scenario(*sc);
  EXPECT_FALSE(r.expectations.back().found);
  EXPECT_FALSE(r.expectations.back().passed);
}

TEST(runner, results_files_are_written) {
  auto sc = parse_scenario(mm2, {{"duration", "10s"}, {"warmup", "1s"}});
  ASSERT_TRUE(sc.has_value());
  const auto dir = std::filesystem::path(::testing::TempDir()) / "mqlab-results";
  ASSERT_TRUE(write_results(dir, *sc, run_scenario(*sc)).has_value());
  for (const char* f : {"run.json", "metrics.csv", "series.csv"}) EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
}

}  // namespace
}  // namespace mqlab::workbench
