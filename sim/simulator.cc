// The simulator's run loop.
#include "sim/simulator.h"

namespace mqlab::sim {

void simulator::run_until(sim_time end) {
  stopped_ = false;
  const auto on_fire = [this](sim_time t) {
    now_ = t;
    ++fired_;
  };
  while (!stopped_ && queue_.fire_next_until(end, on_fire)) {
  }
  if (!stopped_ && end != sim_time::max() && now_ < end) now_ = end;
}

}  // namespace mqlab::sim
