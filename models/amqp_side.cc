// The parts of the AMQP side contract that every side shares.
#include "models/amqp_side.h"

#include <thread>

namespace mqlab::models {

std::vector<consumer_slot> consumer_slots(const std::vector<consumer_group_spec>& groups) {
  std::vector<consumer_slot> out;
  for (const auto& g : groups) {
    for (int i = 0; i < g.count; ++i) out.push_back({&g, i});
  }
  return out;
}

void amqp_side::wait_until(std::chrono::steady_clock::time_point t) { std::this_thread::sleep_until(t); }

}  // namespace mqlab::models
