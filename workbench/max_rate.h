// The maximum sustainable rate (`mqlab max-rate`): the highest offered rate at which a variant
// keeps up, found by bisection between a rate that keeps up and one that does not, to a stated
// resolution. Keeping up means the measurement window ends with the backlog (every queue's
// depth, Kafka groups' lag, the JMS backlog, stations' queues) grown by at most `tolerance` of
// what was offered in it, and at least (1 - tolerance) of the requests done. In the simulation
// each replication (the scenario's seed + k) is searched on its own and the answer is their mean
// with a 95% confidence interval; on the network there is one search.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace mqlab::workbench {

struct max_rate_request {
  std::string file;
  std::string variant;                // empty: the scenario's first variant
  std::string path = "arrivals.rate";  // the field that sets the offered rate, per second
  double low = 1;                     // a rate the search starts from; it must keep up
  double high = 0;                    // one that must not; 0: doubled from `low` until one fails
  double resolution = 0.02;           // stop once (high - low) / low is at most this
  double tolerance = 0.02;
  int replications = 5;               // searches in the simulation; net mode makes one
  run_mode mode = run_mode::sim;
  overrides sets;                     // --set, applied to every probe
  const std::atomic<bool>* cancel = nullptr;
};

struct rate_probe {
  int replication = 0;
  double rate = 0;
  bool keeps_up = false;
  double backlog_growth = 0;  // over the window, as a share of what was offered in it
  double done_share = 0;      // of the requests in the window
};

struct max_rate_result {
  std::vector<double> per_replication;  // the highest rate that kept up, per search
  double mean = 0, ci95 = 0;            // ci95: 0 with one search
  std::vector<rate_probe> probes;       // in the order they ran
};

/// Whether one run of `v` at `rate` kept up, judged as above; `warmup` and `sample_interval`
/// (of its series) in seconds.
rate_probe judge_rate(const variant_result& v, double rate, double warmup, double sample_interval, double tolerance);

/// Runs the searches; `on_probe` sees each probe as it finishes. Fails (with the reason) on a
/// scenario that does not load, a `low` that does not keep up, a `high` that does, or no
/// failing rate below 2^20 x `low`.
std::expected<max_rate_result, std::string> find_max_rate(const max_rate_request& request,
                                                          const std::function<void(const rate_probe&)>& on_probe = {});

}  // namespace mqlab::workbench
