// Runs every variant of a scenario over its replications (in parallel threads), combines the
// replications into means with 95% confidence intervals, and checks the expectations.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "models/system_model.h"
#include "sim/histogram.h"
#include "workbench/scenario.h"

namespace mqlab::workbench {

struct metric_value {
  double mean = 0;
  double ci95 = 0;  // half-width over replications; 0 with one replication
};

struct variant_result {
  std::string name;
  std::map<std::string, metric_value> metrics;
  std::map<std::string, std::vector<double>> series;  // mean over replications, per interval
  double sample_interval_seconds = 1;
  sim::histogram response, e2e;                         // merged over replications
  std::uint64_t events = 0;
  std::string stopped;  // why a replication stopped before its end, or empty
};

struct expectation_result {
  expectation expected;
  double actual = 0;
  bool found = false;
  bool passed = false;
};

struct run_result {
  std::vector<variant_result> variants;
  std::vector<expectation_result> expectations;
  bool all_passed() const;
};

/// Fraction done in [0, 1]; called from worker threads under a lock.
using progress_fn = std::function<void(double)>;
/// A variant's partial result (from its first replication) while it runs; from a worker thread.
using live_fn = std::function<void(std::size_t variant, const variant_result& partial)>;

enum class run_mode { sim, net };

/// Net mode runs one variant at a time, paced by the wall clock, with real clients of real
/// servers; scenarios it cannot run yet are refused by net_mode_support().
/// Runs every variant and replication. With `max_memory` (bytes, 0 = no cap) a run whose
/// process grows past it stops early and says so in its variant's `stopped`.
run_result run_scenario(const scenario& sc, const progress_fn& progress = {}, const std::atomic<bool>* cancel = nullptr,
                        const live_fn& live = {}, run_mode mode = run_mode::sim, std::uint64_t max_memory = 0);

/// Half of this machine's physical memory: the default cap of `mqlab run --max-memory`.
std::uint64_t default_memory_cap();

/// Whether net mode can run the scenario; the error names the first feature it cannot.
std::expected<void, std::string> net_mode_support(const scenario& sc);

/// One replication's metrics as a variant result (no confidence intervals).
variant_result summarize(const variant& v, const models::run_metrics& metrics);

/// The metric "<variant>.<key>" of a run, or null when there is no such variant or key.
const metric_value* find_metric(const std::vector<variant_result>& variants, std::string_view name);

/// Whether a metric key (without its variant) is a time, kept in seconds: response.*, e2e.*,
/// *.wait.mean.
bool is_time_metric(std::string_view key);

/// Checks one expectation against a run's metrics.
expectation_result check(const expectation& e, const std::vector<variant_result>& variants);

}  // namespace mqlab::workbench
