// The discrete-event simulator: a clock and an event queue, as an object (no global state),
// so several simulations can run side by side in one process.
#pragma once

#include <cstdint>
#include <utility>

#include "sim/event_queue.h"
#include "sim/time.h"

namespace mqlab::sim {

class simulator {
 public:
  /// Current virtual time; advances only between events.
  sim_time now() const { return now_; }

  /// Schedules `fn` at absolute time `t` (not before now()). Events at equal times fire FIFO.
  template <typename F>
  event_id at(sim_time t, F&& fn) {
    return queue_.push(t < now_ ? now_ : t, std::forward<F>(fn));
  }

  /// Schedules `fn` after `d` from now.
  template <typename F>
  event_id after(duration d, F&& fn) {
    return at(now_ + d, std::forward<F>(fn));
  }

  /// Cancels a pending event. O(1). Returns false if it already fired or was cancelled.
  bool cancel(event_id id) { return queue_.cancel(id); }

  /// Runs until no event is pending or stop() is called.
  void run() { run_until(sim_time::max()); }

  /// Runs events with time <= `end`; afterwards now() == end unless stopped earlier or drained.
  void run_until(sim_time end);

  /// Makes run()/run_until() return after the current event.
  void stop() { stopped_ = true; }

  /// Time of the next pending event, or sim_time::max() when none is pending.
  sim_time next_time() { return queue_.empty() ? sim_time::max() : queue_.next_time(); }

  std::uint64_t events_fired() const { return fired_; }
  std::size_t pending() const { return queue_.size(); }

 private:
  event_queue queue_;
  sim_time now_;
  std::uint64_t fired_ = 0;
  bool stopped_ = false;
};

}  // namespace mqlab::sim
