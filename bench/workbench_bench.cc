// Scenario benchmarks: simulated requests per wall second for the async-registration lab and
// simulated records per wall second for a Kafka lab at 100 000 records/s, every message
// through the broker core.
#include <benchmark/benchmark.h>

#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace {

using namespace mqlab::workbench;

void BM_ScenarioAsyncRegistration(benchmark::State& state) {
  // The lab's async variant at 2000 requests/s for 60 s, one replication.
  auto sc = load_scenario(MQLAB_SCENARIOS_DIR "/01-async-registration.yaml",
                          {{"replications", "1"}, {"arrivals.rate", "2000/s"}, {"stations.db.servers", "320"},
                           {"stations.email.servers", "320"}, {"stations.sms.servers", "320"},
                           {"variants.async.consumers.count", "160"}});
  if (!sc) {
    state.SkipWithError("cannot load the lab");
    return;
  }
  scenario async_only = *sc;
  std::erase_if(async_only.variants, [](const variant& v) { return v.name != "async"; });
  async_only.expect.clear();
  double requests = 0;
  for (auto _ : state) {
    const auto r = run_scenario(async_only);
    requests += r.variants[0].metrics.at("requests").mean;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
}
BENCHMARK(BM_ScenarioAsyncRegistration)->Unit(benchmark::kMillisecond);

void BM_ScenarioKafka(benchmark::State& state) {
  // Lab 11's keyed variant at 100 000 records/s for 10 s: 12 partitions, RF 2, acks=all,
  // 12 consumers of one group committing after each poll.
  auto sc = load_scenario(MQLAB_SCENARIOS_DIR "/11-kafka-groups.yaml",
                          {{"duration", "10s"}, {"arrivals.rate", "100000/s"}, {"kafka.topics.orders.partitions", "12"},
                           {"kafka.groups.0.count", "12"}, {"kafka.groups.0.service", "50us"}});
  if (!sc) {
    state.SkipWithError("cannot load the lab");
    return;
  }
  scenario keyed_only = *sc;
  std::erase_if(keyed_only.variants, [](const variant& v) { return v.name != "keyed"; });
  keyed_only.expect.clear();
  double records = 0;
  for (auto _ : state) {
    const auto r = run_scenario(keyed_only);
    records += r.variants[0].metrics.at("kafka.produced").mean;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
}
BENCHMARK(BM_ScenarioKafka)->Unit(benchmark::kMillisecond);

}  // namespace
