// A service station on the simulation kernel: c identical servers, a FIFO queue and an optional
// capacity (jobs in queue + in service) beyond which arrivals are turned away. Stations are the
// DB, e-mail, SMS and inventory services of the labs, and the G/G/c/K queue of `mqlab station`.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "sim/distribution.h"
#include "sim/histogram.h"
#include "sim/inline_function.h"
#include "sim/random.h"
#include "sim/simulator.h"
#include "sim/statistics.h"

namespace mqlab::models {

/// One unit of work travelling through stations.
struct job {
  std::uint64_t id = 0;
  sim::sim_time created;   // when it entered the system
  sim::sim_time arrived;   // when it reached the current station
  sim::sim_time started;   // when its service began at the current station
  bool measured = true;    // false during warm-up: not counted in statistics
};

struct station_config {
  std::string name;
  int servers = 1;
  sim::distribution service = sim::distribution::exponential(1.0);  // seconds
  std::uint64_t capacity = 0;  // 0 = unbounded
};

class station {
 public:
  /// `sim` must outlive the station; service times come from `service_rng`.
  station(sim::simulator& sim, station_config config, sim::rng service_rng);

  using departure_handler = sim::inline_function<void(const job&), 32>;
  /// Called for every job that completes service (in completion order).
  void on_departure(departure_handler h) { on_departure_ = std::move(h); }

  /// Offers a job; returns false (and counts a block if measured) when the station is full.
  bool arrive(job j);

  /// An outage: no new service starts until resume(); jobs in service finish, arrivals queue.
  void pause() { paused_ = true; }
  void resume();
  bool paused() const { return paused_; }

  /// Starts (or restarts) the measurement window: time-based warm-up deletion.
  void start_measuring();
  /// Closes the measurement window for utilisation at the current time.
  void stop_measuring();

  const station_config& config() const { return config_; }
  std::size_t in_system() const { return queue_.size() + static_cast<std::size_t>(busy_); }
  std::size_t queue_length() const { return queue_.size(); }
  int busy_servers() const { return busy_; }

  const sim::histogram& waits() const { return waits_; }  // time in queue, ns
  const sim::tally& wait_tally() const { return wait_seconds_; }
  const sim::tally& response_tally() const { return response_seconds_; }
  std::uint64_t offered() const { return offered_; }  // measured arrivals, blocked included
  std::uint64_t blocked() const { return blocked_; }
  std::uint64_t completed() const { return completed_; }
  /// Busy server-time over (servers x measured time).
  double utilization() const;

 private:
  void start_service(job j);
  void start_waiting();
  void depart(const job& j);
  void account_busy();

  sim::simulator& sim_;
  station_config config_;
  sim::rng rng_;
  departure_handler on_departure_;
  std::deque<job> queue_;
  int busy_ = 0;
  bool paused_ = false;

  sim::histogram waits_;
  sim::tally wait_seconds_, response_seconds_;
  std::uint64_t offered_ = 0, blocked_ = 0, completed_ = 0;
  bool measuring_ = true;
  sim::sim_time busy_since_;        // last time busy_ changed or the window opened
  sim::sim_time window_start_, window_end_;
  double busy_area_ = 0;            // server-seconds inside the window
};

}  // namespace mqlab::models
