// JMS selector evaluation: a three-clause selector over a message with five properties.
#include <benchmark/benchmark.h>

#include <array>
#include <utility>

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
  const value_source source = [&](std::string_view id) -> value {
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

}  // namespace
