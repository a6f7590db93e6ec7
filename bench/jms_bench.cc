// JMS selector evaluation: a three-clause selector over a message with five properties.
#include <benchmark/benchmark.h>

#include <array>
#include <utility>

#include "broker/jms/broker.h"
#include "broker/jms/selector.h"

namespace {

using namespace mqlab::broker::jms;

void BM_JmsSelectorEval(benchmark::State& state) {
  const auto s = selector::compile("JMSType = 'car' AND weight > 2500 AND color IN ('blue', 'red')").value();
  const std::array<std::pair<std::string_view, value>, 5> props{{{"JMSType", std::string("car")},
                                                                 {"color", std::string("blue")},
                                                                 {"weight", std::int64_t{3000}},
                                                                 {"doors", std::int64_t{4}},
                                                                 {"make", std::string("volvo")}}};
  const auto source = [&](std::string_view id) -> value {
    for (const auto& [name, v] : props) {
      if (name == id) return v;
    }
    return {};
  };
  std::int64_t selected = 0;
  for (auto _ : state) selected += s.matches(source);
  benchmark::DoNotOptimize(selected);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JmsSelectorEval);

// One persistent 100-byte text message published to a topic with N active subscribers (auto
// acknowledge, each delivery acknowledged). Counts deliveries.
void BM_JmsTopicFanout(benchmark::State& state) {
  broker b;
  const mqlab::broker::instant now{};
  const auto conn = b.connect({}, now).value();
  const auto s = b.create_session(conn, ack_mode::auto_acknowledge).value();
  for (int i = 0; i < state.range(0); ++i) {
    (void)b.create_consumer(s, {.kind = destination_kind::topic, .destination = "prices"}, now);
  }
  message_spec spec;
  spec.content = text_body{std::string(100, 'x')};
  spec.properties = {{"symbol", std::string("ACME")}};
  std::int64_t delivered = 0;
  for (auto _ : state) {
    (void)b.send(s, destination_kind::topic, "prices", spec, {}, now);
    for (const auto& d : b.take_deliveries()) {
      (void)b.acknowledge(d.session, d.delivery_id, now);
      ++delivered;
    }
  }
  state.SetItemsProcessed(delivered);
}
BENCHMARK(BM_JmsTopicFanout)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
