// What a system model needs from its AMQP side: the scenario's topology declared, a producer
// publishing, consumers subscribed with their prefetch and ack mode, acknowledgements, faults
// and the broker's counters. amqp_model is the simulated one (the broker core in virtual time);
// the workbench's net mode plugs in a real one (a server on loopback ports and AMQP clients
// over TCP) behind the same calls, so both produce the same metrics. The model keeps what a
// consumer holds and does; the side only moves messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/amqp/broker.h"
#include "models/system.h"
#include "sim/simulator.h"

namespace mqlab::models {

/// A delivery as its consumer acknowledges it: the channel it came on (an id of the side's
/// choosing; a reopened channel gets a new one) and its delivery tag there.
struct delivery_ref {
  std::uint64_t channel = 0;
  std::uint64_t tag = 0;

  /// A side's channel id: its connection numbering above the AMQP channel number.
  static std::uint64_t channel_on(std::uint64_t connection, std::uint16_t channel_number) {
    return (connection << 16) | channel_number;
  }
  std::uint64_t connection() const { return channel >> 16; }
  std::uint16_t channel_number() const { return static_cast<std::uint16_t>(channel & 0xffff); }
};

/// One consumer of the system: consumer `index` of `group`. Sides and the model number the
/// consumers the same way: group by group, in the scenario's order.
struct consumer_slot {
  const consumer_group_spec* group = nullptr;
  int index = 0;
};
std::vector<consumer_slot> consumer_slots(const std::vector<consumer_group_spec>& groups);
/// One State{.slot = s} per consumer: a side's or the model's per-consumer records.
template <typename State>
std::vector<State> per_consumer(const std::vector<consumer_group_spec>& groups) {
  std::vector<State> out;
  for (const auto& slot : consumer_slots(groups)) out.push_back({.slot = slot});
  return out;
}

/// Declares the scenario's exchanges, queues and bindings in `broker`, each queue from its node
/// (so it lives there; node 0 by default), as RabbitMQ loads definitions at boot.
void declare_topology(broker::amqp::broker& broker, const broker_spec& spec);

/// Ready plus unacknowledged messages of a queue in vhost "/"; nullopt if it does not exist.
std::optional<std::uint64_t> queue_depth(const broker::amqp::broker& broker, const std::string& queue);

/// When consumers subscribe again after losing their connection, channel or queue: client
/// libraries retry after a recovery interval (Spring AMQP: 5 s; we use 1 s), with one retry
/// pending per consumer at a time. A killed (or stopped) consumer does not come back unless
/// revived.
class resubscriptions {
 public:
  /// `subscribe(i)` runs when consumer i's retry is due; `sim` must outlive this.
  resubscriptions(sim::simulator& sim, std::size_t consumers, std::function<void(int)> subscribe);
  void later(int consumer);
  void kill(int consumer) { dead_[static_cast<std::size_t>(consumer)] = true; }
  /// A stopped consumer of an elastic group is started again.
  void revive(int consumer) { dead_[static_cast<std::size_t>(consumer)] = false; }
  bool alive(int consumer) const { return !dead_[static_cast<std::size_t>(consumer)]; }

 private:
  sim::simulator& sim_;
  std::vector<bool> pending_, dead_;
  std::function<void(int)> subscribe_;
};

class amqp_side {
 public:
  /// What the side reports, on the model's thread, at the model's current time.
  struct listener {
    /// Consumer `consumer` was delivered `body`; it acknowledges with `ref` (unless auto-ack).
    std::function<void(int consumer, delivery_ref ref, std::string_view body)> delivered;
    /// Consumer `consumer` lost its connection: what it held is void (the broker requeues it,
    /// or with auto-ack it is gone). It resubscribes by itself unless killed.
    std::function<void(int consumer)> reset;
    /// A mandatory publish came back unroutable (or could not be published at all).
    std::function<void(std::string_view body)> returned;
    /// A pulling consumer's basic.get found the queue empty (or could not ask: no channel yet).
    std::function<void(int consumer)> empty;
  };

  virtual ~amqp_side() = default;

  /// At time zero: declares the topology, connects the producer, subscribes every consumer.
  virtual void start(listener l) = 0;
  /// How a publish ended for its publisher: true once the message has left it, or with
  /// `confirm` once the broker acked it; false for a nack or a channel that closed first (as
  /// client libraries fail the confirms still outstanding then).
  using answer_fn = std::function<void(bool acked)>;
  /// Publishes a message; `answered` runs when the publisher may go on.
  virtual void publish(const std::string& exchange, const std::string& routing_key,
                       const std::shared_ptr<const broker::amqp::basic_properties>& properties, std::string body,
                       bool confirm, answer_fn answered) = 0;
  /// basic.ack of `ref`; `multiple` also settles the consumer's earlier unacknowledged deliveries.
  virtual void ack(int consumer, delivery_ref ref, bool multiple) = 0;
  /// A pulling consumer (group `pull`) asks for one message with basic.get: the answer comes
  /// back through `delivered` or `empty`.
  virtual void get(int consumer) = 0;
  /// basic.reject: the consumer failed the message; the broker requeues it or, without
  /// `requeue`, dead-letters it (or drops it when its queue has no dead-letter exchange).
  virtual void reject(int consumer, delivery_ref ref, bool requeue) = 0;
  /// The consumer's process dies: its connection drops without a goodbye; it never comes back.
  virtual void kill(int consumer) = 0;
  /// Elastic groups: a consumer not started yet, or stopped, subscribes now. (start() starts
  /// each group's initial_count() consumers.)
  virtual void start_consumer(int consumer) = 0;
  /// Elastic groups: the container stops an idle consumer. It holds nothing, so to the broker
  /// this is the same as its connection going; it may be started again.
  void stop_consumer(int consumer) { kill(consumer); }
  virtual void crash(broker::node_id node) = 0;
  virtual void restart(broker::node_id node) = 0;
  virtual void partition(broker::node_id a, broker::node_id b) = 0;
  virtual void heal(broker::node_id a, broker::node_id b) = 0;
  /// Slows, pauses or degrades a node's resources; a side without resources ignores it.
  virtual void fault_resources(broker::node_id, const resource_fault&) {}

  /// Ready plus unacknowledged messages of a queue; nullopt if it does not exist.
  virtual std::optional<std::uint64_t> queue_depth(const std::string& queue) const = 0;
  virtual broker::amqp::queue_stats totals() const = 0;
  virtual broker::amqp::cluster_traffic traffic() const = 0;
  /// Per-node resource measures (node.N.cpu utilisation) since start_measuring(); none without resources.
  virtual void resource_metrics(std::map<std::string, double>&) const {}
  virtual void start_measuring() {}

  /// Real time only: hands over what arrived meanwhile; called often.
  virtual void pump() {}
  /// Real time only: waits until `t` or until something arrives, whichever is first.
  virtual void wait_until(std::chrono::steady_clock::time_point t);
};

}  // namespace mqlab::models
