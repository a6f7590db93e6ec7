// What a system model needs from its JMS side: messages sent by pipeline steps, consumers
// working through them, and metrics. jms_model is the simulated one (the core in virtual time);
// the workbench's net mode plugs in a real one (a STOMP server on loopback and real clients).
// Both count what their consumers received with a jms_tally, so they report the same metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/jms/broker.h"
#include "models/record_ledger.h"
#include "models/system.h"
#include "sim/random.h"
#include "sim/histogram.h"
#include "sim/time.h"

namespace mqlab::models {

class jms_side {
 public:
  virtual ~jms_side() = default;

  /// A jms section was declared, or messages were sent.
  virtual bool enabled() const = 0;
  /// Connects the consumers and schedules their offline windows.
  virtual void start() = 0;
  /// `answered` runs when the producer may go on: at once for a non-persistent (asynchronous)
  /// send, after the broker's receipt for a persistent one (ActiveMQ sends those synchronously).
  virtual void send(const send_step& step, sim::sim_time created, bool measured, done_fn answered) = 0;
  virtual void start_measuring() = 0;
  /// Messages waiting in queues and durable subscriptions, summed.
  virtual std::int64_t backlog() const = 0;
  /// Real time only: hands over what arrived meanwhile; called often.
  virtual void pump() {}
  /// Adds the JMS metrics to `values` and the end-to-end latencies to `e2e`.
  virtual void collect(std::map<std::string, double>& values, sim::histogram& e2e) const = 0;
};

/// The bookkeeping both sides share: message bodies that carry their creation time, whether they
/// count, a sequence number, and a key with its sequence within the key; what each consumer
/// received (latency, deliveries, duplicates, per-key order); and from that the metrics, misses
/// included.
class jms_tally {
 public:
  /// `keys` chooses the key of each keyed send.
  jms_tally(const jms_spec& spec, sim::rng keys);
  struct message {
    std::string body;
    std::int32_t key = -1;  // -1: none
    /// The JMSXGroupID the message carries, or "" (the step's message_groups).
    std::string group;
  };
  /// The body of a send as the step says (its size, a key chosen uniformly if it has keys).
  message next(const send_step& step, sim::sim_time created, bool measured);
  /// Member `index` of consumer `c` processed `body` at `now`.
  void received(const jms_consumer_spec& c, int index, std::string_view body, sim::sim_time now);
  /// A member of `c` failed a message (its `fail` or `poison`); it is rolled back.
  void failed(const jms_consumer_spec& c) { ++failed_[c.name]; }
  /// The part of a body that identifies its message (what `poison` chooses by).
  static std::string_view stamp_of(std::string_view body);
  bool sent_any() const { return sequence_ > 0; }
  /// The broker's counters over the consumers' destinations (acknowledged, expired, dead-lettered, dropped).
  broker::jms::destination_stats totals(const broker::jms::broker& core) const;
  /// Messages waiting in the consumers' queues and durable subscriptions, summed.
  std::int64_t backlog(const broker::jms::broker& core) const;
  void start_measuring(const broker::jms::destination_stats& at_warmup) { warmup_totals_ = at_warmup; }
  void collect(std::map<std::string, double>& v, sim::histogram& e2e, std::int64_t backlog,
               const broker::jms::destination_stats& end) const;

 private:
  const jms_spec& spec_;
  sim::rng keys_;
  std::map<std::pair<std::string, std::int32_t>, std::uint32_t> next_in_key_;  // per destination and key
  std::map<std::string, record_ledger> order_;  // per consumer spec: the keyed messages' order
  sim::histogram e2e_;
  std::uint64_t sequence_ = 0, sent_ = 0, delivered_ = 0;
  std::map<std::string, std::uint64_t> sent_to_;                       // measured messages per destination
  std::map<std::string, std::vector<bool>> seen_;                      // per consumer spec: sequences delivered
  std::map<std::pair<std::string, int>, std::uint64_t> delivered_by_, duplicates_by_;  // per member
  std::map<std::string, std::uint64_t> failed_;                                        // per consumer spec
  broker::jms::destination_stats warmup_totals_;
};

/// The name without ActiveMQ destination options ("orders?consumer.prefetchSize=1" -> "orders").
std::string name_of(const jms_consumer_spec& c);
/// The client id of a durable subscriber's member: the same one comes back after an outage.
std::string client_id_of(const jms_consumer_spec& c, int index);

}  // namespace mqlab::models
