// The hold model on ns-3's simulator, for scripts/bench-peers.sh: `population` events pending;
// each fired event schedules one successor at now + Exp(mean 1 ms). Prints events per second.
// The random numbers come from mqlab's own generator (sim/random.cc, compiled in: xoshiro256++
// and the exponential ziggurat), so the comparison measures the schedulers, not ns-3's
// MRG32k3a streams and inversion sampling.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "ns3/core-module.h"
#include "sim/random.h"

namespace {

mqlab::sim::rng random(42);
std::uint64_t fired = 0;
std::uint64_t target = 0;

std::int64_t hold_ns() { return static_cast<std::int64_t>(1e6 * random.exponential()); }

void hold() {
  if (++fired == target) ns3::Simulator::Stop();
  ns3::Simulator::Schedule(ns3::NanoSeconds(hold_ns()), &hold);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ns3::MapScheduler|ns3::HeapScheduler|ns3::CalendarScheduler POPULATION EVENTS\n", argv[0]);
    return 2;
  }
  ns3::ObjectFactory factory;
  factory.SetTypeId(argv[1]);
  ns3::Simulator::SetScheduler(factory);
  const long population = std::stol(argv[2]);
  target = std::stoull(argv[3]);
  for (long i = 0; i < population; ++i) {
    ns3::Simulator::Schedule(ns3::NanoSeconds(hold_ns()), &hold);
  }
  const auto start = std::chrono::steady_clock::now();
  ns3::Simulator::Run();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ns3::Simulator::Destroy();
  std::printf("%.0f\n", static_cast<double>(fired) / secs);
  return 0;
}
