// Kafka-core benchmarks: produce + fetch on one partition, replication to two followers, and
// group rebalances.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <memory>

#include "broker/kafka/client.h"
#include "broker/kafka/cluster.h"

namespace {

using namespace mqlab::broker::kafka;

// 100-byte records, one partition, batches of 100, acks=1, a consumer fetching right behind.
void BM_KafkaProduceFetch(benchmark::State& state) {
  cluster c(1);
  topic_config cfg;
  cfg.log.retention_bytes = 64 << 20;
  c.create_topic("t", cfg);
  const std::string value(100, 'x');
  std::int64_t next = 0, now = 0, records = 0;
  std::vector<record> batch;
  for (auto _ : state) {
    batch.clear();
    for (int i = 0; i < 100; ++i) batch.push_back(record{0, now, std::nullopt, value, {}});
    c.produce("t", 0, std::move(batch), acks::leader, now);
    batch = {};
    std::size_t bytes = 0;
    const auto got = c.fetch_visit("t", 0, next, 100, [&](const record& r) { bytes += r.value.size(); });
    benchmark::DoNotOptimize(bytes);
    next += static_cast<std::int64_t>(got.value_or(0));
    records += static_cast<std::int64_t>(got.value_or(0));
    if ((++now & 1023) == 0) c.clean(now);
  }
  state.SetItemsProcessed(records);
}
BENCHMARK(BM_KafkaProduceFetch);

// Replication as the simulation runs it: batches of 100 records into a partition of three
// replicas (acks=all), each follower fetching what it lacks and appending it (records/s).
void BM_KafkaFollowerFetch(benchmark::State& state) {
  cluster c(3);
  c.set_follower_fetching(true);
  topic_config cfg;
  cfg.replication_factor = 3;
  cfg.log.retention_bytes = 64 << 20;
  c.create_topic("t", cfg);
  const std::string value(100, 'x');
  std::int64_t now = 0, records = 0;
  for (auto _ : state) {
    std::vector<record> batch;
    for (int i = 0; i < 100; ++i) batch.push_back(record{0, now, std::nullopt, value, {}});
    c.produce("t", 0, std::move(batch), acks::all, now);
    for (std::int32_t follower : {1, 2}) {
      auto lacking = c.follower_fetch("t", 0, follower, 10'000, now);
      if (lacking) c.follower_append("t", 0, follower, *lacking, now);
    }
    records += 100;
    if ((++now & 1023) == 0) c.clean(now);
  }
  if (c.partition("t", 0).high_watermark != records) state.SkipWithError("the followers did not keep up");
  state.SetItemsProcessed(records);
}
BENCHMARK(BM_KafkaFollowerFetch);

// One rebalance of a group over 100 partitions when a consumer joins: its JoinGroup, the
// members' rejoins, the leader's cooperative-sticky assignment and every SyncGroup.
void BM_KafkaGroupRebalance(benchmark::State& state) {
  const auto consumers = static_cast<int>(state.range(0));
  consumer_config config{.group = "g", .assignor = assignor_kind::cooperative_sticky};
  for (auto _ : state) {
    state.PauseTiming();
    cluster c(1);
    topic_config topic;
    topic.partitions = 100;
    c.create_topic("orders", topic);
    std::vector<std::unique_ptr<consumer>> group;
    const auto settle = [&](std::int64_t now) {
      for (int round = 0; round < 3; ++round) {
        for (auto& m : group) (void)m->poll(now);
      }
    };
    for (int i = 0; i + 1 < consumers; ++i) group.push_back(std::make_unique<consumer>(c, std::vector<std::string>{"orders"}, config));
    settle(0);
    state.ResumeTiming();
    group.push_back(std::make_unique<consumer>(c, std::vector<std::string>{"orders"}, config));
    settle(1);
    benchmark::DoNotOptimize(group.back()->assignment().size());
  }
}
BENCHMARK(BM_KafkaGroupRebalance)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
