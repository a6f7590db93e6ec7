// Scenario benchmarks: simulated requests per wall second for the async-registration lab,
// simulated records per wall second for a Kafka lab at 100 000 records/s, and simulated
// messages per wall second for the knee lab just below its knee; every message through the
// broker core, priced with profiles/default.yaml.
#include <benchmark/benchmark.h>

#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace {

using namespace mqlab::workbench;

/// Runs one variant of a bundled lab with `overrides` for each benchmark iteration and
/// reports `counted` (a metric of the variant, summed) as the items processed. The benchmarks
/// set no warm-up, so that every simulated message is counted.
void run_lab_variant(benchmark::State& state, const char* file, const std::vector<std::pair<std::string, std::string>>& overrides,
                     const std::string& variant_name, const std::string& counted) {
  auto sc = load_scenario(std::string(MQLAB_SCENARIOS_DIR "/") + file, overrides);
  if (!sc) {
    state.SkipWithError("cannot load the lab");
    return;
  }
  std::erase_if(sc->variants, [&](const variant& v) { return v.name != variant_name; });
  sc->expect.clear();
  double items = 0;
  for (auto _ : state) items += run_scenario(*sc).variants[0].metrics.at(counted).mean;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
}

void BM_ScenarioAsyncRegistration(benchmark::State& state) {
  // The lab's async variant at 2000 requests/s for 60 s, one replication.
  run_lab_variant(state, "01-async-registration.yaml",
                  {{"replications", "1"}, {"warmup", "0s"}, {"arrivals.rate", "2000/s"}, {"stations.db.servers", "320"},
                   {"stations.email.servers", "320"}, {"stations.sms.servers", "320"},
                   {"variants.async.consumers.count", "160"}},
                  "async", "requests");
}
BENCHMARK(BM_ScenarioAsyncRegistration)->Unit(benchmark::kMillisecond);

void BM_ScenarioKafka(benchmark::State& state) {
  // Lab 11's keyed variant at 100 000 records/s for 10 s: 12 partitions, RF 2, acks=all,
  // 12 consumers of one group committing after each poll.
  run_lab_variant(state, "11-kafka-groups.yaml",
                  {{"duration", "10s"}, {"warmup", "0s"}, {"arrivals.rate", "100000/s"}, {"kafka.topics.orders.partitions", "12"},
                   {"kafka.groups.0.count", "12"}, {"kafka.groups.0.service", "50us"}},
                  "keyed", "kafka.produced");
}
BENCHMARK(BM_ScenarioKafka)->Unit(benchmark::kMillisecond);

void BM_ScenarioKnee(benchmark::State& state) {
  // Lab 16 at 55 000 msg/s for 6 s: one queue near saturation, 16 consumers, every publish,
  // delivery and ack priced on the node's processes and links.
  run_lab_variant(state, "16-the-knee.yaml", {{"warmup", "0s"}}, "r55k", "published");
}
BENCHMARK(BM_ScenarioKnee)->Unit(benchmark::kMillisecond);

}  // namespace
