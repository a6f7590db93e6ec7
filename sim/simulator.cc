// The simulator's run loop.
#include "sim/simulator.h"

namespace mqlab::sim {

void simulator::run_until(sim_time end) {
  stopped_ = false;
  event_callback fn;
  while (!stopped_ && !queue_.empty() && queue_.next_time() <= end) {
    now_ = queue_.pop(fn);
    ++fired_;
    fn();
  }
  if (!stopped_ && end != sim_time::max() && now_ < end) now_ = end;
}

}  // namespace mqlab::sim
