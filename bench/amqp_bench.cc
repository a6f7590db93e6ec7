// Broker-core benchmarks for the AMQP personality: the publish -> deliver -> ack round trip,
// topic routing with many bindings, and the memory a large backlog takes.
#include <benchmark/benchmark.h>

#include <fstream>
#include <string>

#include <fmt/format.h>

#include "broker/amqp/broker.h"

namespace {

using namespace mqlab::broker;
using namespace mqlab::broker::amqp;

struct one_channel {
  broker b;
  channel_ref ch;
  one_channel() {
    ch = {b.open_connection("/", {}).value(), 1};
    (void)b.channel_open(ch);
  }
};

// 100-byte bodies, one queue, one consumer with prefetch 1000, every message acked.
void BM_AmqpDirectPublishConsumeAck(benchmark::State& state) {
  one_channel f;
  (void)f.b.queue_declare(f.ch, {.name = "q"}, {});
  (void)f.b.basic_qos(f.ch, 1000, false, {});
  (void)f.b.basic_consume(f.ch, {.queue = "q"}, {});
  const std::string body(100, 'x');
  auto props = std::make_shared<const basic_properties>();
  std::vector<event> events;
  for (auto _ : state) {
    (void)f.b.basic_publish(f.ch, "", "q", false, props, body, {});
    events.clear();
    std::swap(events, const_cast<std::vector<event>&>(f.b.events()));
    for (const auto& e : events) {
      if (const auto* d = std::get_if<delivery>(&e)) (void)f.b.basic_ack(f.ch, d->delivery_tag, false, {});
    }
    f.b.clear_events();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AmqpDirectPublishConsumeAck);

// Routing decisions per second through a topic exchange with N bindings of 3-word patterns.
void BM_AmqpTopicRoute(benchmark::State& state) {
  one_channel f;
  const auto bindings = static_cast<int>(state.range(0));
  (void)f.b.exchange_declare(f.ch, {.name = "t", .type = "topic"});
  for (int i = 0; i < 100; ++i) (void)f.b.queue_declare(f.ch, {.name = fmt::format("q{}", i)}, {});
  for (int i = 0; i < bindings; ++i) {
    const std::string pattern = i % 10 == 0 ? fmt::format("region{}.#", i % 97)
                                : i % 10 == 1 ? fmt::format("*.store{}.*", i)
                                              : fmt::format("region{}.store{}.sku{}", i % 97, i, i % 13);
    (void)f.b.queue_bind(f.ch, fmt::format("q{}", i % 100), "t", pattern);
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 1024; ++i) keys.push_back(fmt::format("region{}.store{}.sku{}", i % 97, (i * 7919) % bindings, i % 13));
  auto props = std::make_shared<const basic_properties>();
  // Routed messages are purged now and then so queues do not grow without bound.
  std::size_t i = 0;
  for (auto _ : state) {
    (void)f.b.basic_publish(f.ch, "t", keys[i++ & 1023], false, props, "", {});
    if ((i & 4095) == 0) {
      state.PauseTiming();
      for (int q = 0; q < 100; ++q) (void)f.b.queue_purge(f.ch, fmt::format("q{}", q));
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AmqpTopicRoute)->Arg(100)->Arg(10000);

long resident_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// One million 100-byte messages waiting in one queue; reports the resident memory they add.
void BM_AmqpBacklogMemory(benchmark::State& state) {
  for (auto _ : state) {
    const long before = resident_kb();
    one_channel f;
    (void)f.b.queue_declare(f.ch, {.name = "q"}, {});
    auto props = std::make_shared<const basic_properties>();
    const std::string body(100, 'x');
    for (int i = 0; i < 1'000'000; ++i) (void)f.b.basic_publish(f.ch, "", "q", false, props, body, {});
    state.counters["rss_mb"] = static_cast<double>(resident_kb() - before) / 1024.0;
    state.counters["bytes_per_msg"] = static_cast<double>(resident_kb() - before) * 1024.0 / 1e6;
  }
}
BENCHMARK(BM_AmqpBacklogMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
