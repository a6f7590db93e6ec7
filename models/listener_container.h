// An elastic consumer group (`concurrency: MIN-MAX`) as Spring AMQP's
// SimpleMessageListenerContainer runs one: each consumer's receives either return a message
// or time out, and runs of either start or stop a consumer under the container's rules
// (elastic_spec). The model tells it what its consumers do; it says which are running.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "models/system.h"
#include "sim/simulator.h"

namespace mqlab::models {

class listener_container {
 public:
  /// `members`: the model's numbers of the group's consumers, in slot order; the first `min`
  /// run from the start. `start` and `stop` act on one of them. `sim` and `group` must outlive it.
  listener_container(sim::simulator& sim, const consumer_group_spec& group, std::vector<int> members,
                     std::function<void(int)> start, std::function<void(int)> stop);

  const consumer_group_spec& group() const { return group_; }
  bool running(int consumer) const { return slot(consumer).running; }
  /// A receive of `consumer` returned a message.
  void received(int consumer);
  /// `consumer` has nothing to work on: its receive waits, timing out every receive_timeout.
  void waiting(int consumer);
  /// `consumer` died (a fault): it no longer runs and is never started again.
  void killed(int consumer);

  int running_count() const;
  int max_running() const { return max_running_; }
  std::uint64_t started() const { return started_; }
  std::uint64_t stopped() const { return stopped_; }

 private:
  struct member {
    int consumer = 0;
    bool running = false, dead = false;
    int consecutive_messages = 0, consecutive_idles = 0;
    std::uint64_t wait = 0;  // bumped when a wait ends: its pending timeout is void
  };
  member& slot(int consumer);
  const member& slot(int consumer) const;
  void timed_out(member& m);
  void consider_adding();
  void consider_stopping(member& m);

  sim::simulator& sim_;
  const consumer_group_spec& group_;
  const elastic_spec& rules_;
  std::vector<member> members_;
  std::function<void(int)> start_, stop_;
  // Spring starts with both at 0 ms since the epoch, long past: the first start or stop may come at once.
  std::optional<sim::sim_time> last_started_, last_stopped_;
  std::uint64_t started_ = 0, stopped_ = 0;
  int max_running_ = 0;
};

}  // namespace mqlab::models
