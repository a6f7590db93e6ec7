// Runs one replication of a system_spec on the simulation kernel. Every message goes through
// the real AMQP broker core (simulated, or served over TCP in net mode): routing, prefetch,
// acknowledgements, priorities, TTL, length limits and cluster failures are the core's, not a
// stand-in queue's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/amqp_side.h"
#include "models/jms_side.h"
#include "models/kafka_side.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

/// What one replication measured (after warm-up).
struct run_metrics {
  /// Flat metrics: "response.mean" (seconds), "throughput" (per second), "lost", ...
  std::map<std::string, double> values;
  /// Per-interval series: "throughput", "response.p99", "queue.<name>.depth", ...
  std::map<std::string, std::vector<double>> series;
  sim::histogram response;  // ns, requests that completed
  sim::histogram e2e;       // ns, from publish to the end of a consumer's work
  std::uint64_t events = 0;
  /// Why the run stopped before its end (what it measured until then is above), or empty.
  std::string stopped;
};

/// Fraction of the run simulated so far, for progress bars; may be called from another thread.
using run_progress = std::function<void(double)>;
/// The series and latencies measured so far (values left empty), every 1% of simulated time,
/// for charts that grow while the run proceeds.
using run_snapshot = std::function<void(const run_metrics&)>;

/// Where a run happens: in virtual time against the simulated broker cores (the default), or
/// paced by the wall clock with real AMQP and Kafka sides (net mode).
struct run_environment {
  /// Events fire when the wall clock reaches their time; real sides get pump()ed meanwhile.
  bool real_time = false;
  /// Makes the AMQP side; unset: the simulated amqp_model.
  std::function<std::unique_ptr<amqp_side>(sim::simulator&, const system_spec&)> amqp;
  /// Makes the Kafka side; unset: the simulated kafka_model.
  std::function<std::unique_ptr<kafka_side>(sim::simulator&, const system_spec&, const sim::random_streams&)> kafka;
  /// Makes the JMS side; unset: the simulated jms_model.
  std::function<std::unique_ptr<jms_side>(sim::simulator&, const system_spec&, const sim::random_streams&)> jms;
  /// Asked every few thousand requests: a reason to stop the run now (the memory cap is
  /// reached), or nothing. May be called from several runs' threads at once.
  std::function<std::optional<std::string>()> over_budget;
};

/// Writes a latency histogram (ns) as `<prefix>.count`, `.mean`, `.stddev`, `.p50` ... `.p99.99`
/// and `.max`, in seconds.
void put_latency(std::map<std::string, double>& v, const std::string& prefix, const sim::histogram& h);

run_metrics run_system(const system_spec& spec, std::uint64_t seed, const run_progress& progress = {},
                       const std::atomic<bool>* cancel = nullptr, const run_snapshot& snapshot = {},
                       const run_environment& environment = {});

}  // namespace mqlab::models
