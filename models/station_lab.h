// The queueing-station lab behind `mqlab station`: an open G/G/c/K station fed by Poisson
// arrivals, run for a number of customers over independent replications, with confidence
// intervals and the exact theory where one exists.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "models/queueing_theory.h"
#include "models/station.h"
#include "sim/histogram.h"
#include "sim/statistics.h"

namespace mqlab::models {

struct station_lab_config {
  double arrival_rate = 1.0;            // λ per second, Poisson
  station_config station;
  std::uint64_t customers = 100'000;    // measured customers per replication
  std::uint64_t warmup = 0;             // customers discarded at the start of each replication
  int replications = 1;                 // 1 = batch means over one run
  std::uint64_t seed = 1;
};

struct station_lab_result {
  sim::interval wait_mean;       // seconds, 95% CI
  sim::interval response_mean;   // seconds
  sim::interval utilization;
  sim::interval block_prob;
  sim::histogram waits;          // all replications merged, ns
  std::uint64_t customers = 0;   // measured arrivals over all replications
  std::uint64_t events = 0;      // simulator events fired
  std::optional<queue_measures> theory;
};

/// Called after each finished replication with (done, total); may come from worker threads.
using progress_fn = std::function<void(int, int)>;

/// Runs the replications (in parallel threads; results do not depend on the thread count).
station_lab_result run_station_lab(const station_lab_config& config, const progress_fn& progress = {});

}  // namespace mqlab::models
