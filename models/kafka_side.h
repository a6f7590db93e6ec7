// What a system model needs from its Kafka side: records produced by pipeline steps, consumer
// groups working through them, faults and metrics. kafka_model is the simulated one (the core
// in virtual time); the workbench's net mode plugs in a real one (a server on loopback and
// real clients) behind the same calls, so both produce the same metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "broker/kafka/cluster.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/time.h"

namespace mqlab::models {

class kafka_side {
 public:
  virtual ~kafka_side() = default;

  virtual bool enabled() const = 0;
  /// At time zero of the run.
  virtual void start() = 0;
  /// Produces a record; `answered` runs when the producer may go on: at once for acks=0 and
  /// where the side has no costs, else once the broker's produce response has come back.
  virtual void produce(const produce_step& step, sim::sim_time created, bool measured, done_fn answered) = 0;
  /// At the end of the warm-up.
  virtual void start_measuring() = 0;
  /// "broker-N" crash/restart; returns false if the target is not a broker.
  virtual bool crash(const std::string& target) = 0;
  virtual bool restart(const std::string& target) = 0;
  /// Consumer `index` of `group` dies without leaving its group.
  virtual bool kill(const std::string& group, int index) = 0;
  /// Records not yet consumed, summed over the groups.
  virtual std::int64_t lag() const = 0;
  /// Real time only: hands over what arrived meanwhile (delivery reports); called often.
  virtual void pump() {}
  /// Real time only: whether something it waits for (a delivery report) should be handed over
  /// promptly, so pump() is called again soon rather than after the loop's usual nap.
  virtual bool awaiting() const { return false; }
  /// Slows, pauses or degrades broker `target`'s resources; false if it names no broker.
  virtual bool fault_resources(const std::string&, const resource_fault&) { return false; }
  /// At the end of the run: adds the Kafka metrics to `values`, the end-to-end latencies to `e2e`.
  virtual void collect(std::map<std::string, double>& values, sim::histogram& e2e) = 0;
};

/// Creates the scenario's topics in `cluster`; `now_ms` starts the followers' lag clocks.
void create_topics(broker::kafka::cluster& cluster, const kafka_spec& spec, std::int64_t now_ms);

/// Records below offset `committed` of a partition that a group never finished (`done` marks
/// finished offsets; null: none): what committing ahead of the work skipped.
std::uint64_t unfinished_below(const std::vector<bool>* done, std::int64_t committed);
/// Marks `offset` finished in `done`.
void mark_finished(std::vector<bool>& done, std::int64_t offset);

/// N for a fault target "broker-N" of a cluster of `brokers`, or -1 if it names no broker.
std::int32_t broker_index(const std::string& target, std::int32_t brokers);

}  // namespace mqlab::models
