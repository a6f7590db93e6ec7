// Kernel benchmarks: the classic hold model (each fired event schedules one successor at
// now + Exp(mean 1 ms)) and the M/M/1 station lab, reported as items per second.
#include <benchmark/benchmark.h>

#include <cmath>

#include "models/station_lab.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace {

using namespace mqlab;

void BM_HoldModel(benchmark::State& state) {
  const auto population = static_cast<int>(state.range(0));
  sim::simulator sim;
  sim::rng r(42);
  struct hold {
    sim::simulator* sim;
    sim::rng* r;
    void operator()() const {
      sim->after(sim::duration(static_cast<std::int64_t>(1e6 * r->exponential())), *this);
    }
  };
  for (int i = 0; i < population; ++i) hold{&sim, &r}();
  constexpr std::int64_t batch = 1'000'000;
  for (auto _ : state) {
    const auto before = sim.events_fired();
    // Run a fixed number of events: the end time is moved forward until a batch has fired.
    while (sim.events_fired() - before < batch) sim.run_until(sim.now() + sim::duration::milliseconds(10));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(sim.events_fired()));
}
BENCHMARK(BM_HoldModel)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_StationMM1(benchmark::State& state) {
  models::station_lab_config cfg;
  cfg.arrival_rate = 90;
  cfg.station = {"mm1", 1, sim::distribution::exponential(0.01), 0};
  cfg.customers = 1'000'000;
  cfg.replications = 1;
  std::uint64_t customers = 0;
  for (auto _ : state) customers += models::run_station_lab(cfg).customers;
  state.SetItemsProcessed(static_cast<std::int64_t>(customers));
}
BENCHMARK(BM_StationMM1)->Unit(benchmark::kMillisecond);

}  // namespace
