// The AMQP side of a simulated system: the broker core in virtual time, with the scenario's
// topology, a producer connection and one connection per consumer. Consumers whose queue or
// node goes away resubscribe after a recovery interval, as client libraries do; message
// expiry runs at the core's deadlines. Unless the cost model is ideal, every call is priced:
// clients reach their node over links, the core's work waits for the nodes' CPUs, processes,
// disks and links, and what the call produced (deliveries, confirms) leaves when it is done.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/amqp/broker.h"
#include "models/amqp_side.h"
#include "models/cluster_resources.h"
#include "models/slot_pool.h"
#include "sim/simulator.h"

namespace mqlab::models {

class amqp_model final : public amqp_side {
 public:
  /// `sim` and `spec` must outlive the model.
  /// `host`: the machine every node and client shares (cost_model::host_cores), or none.
  amqp_model(sim::simulator& sim, const system_spec& spec, const sim::random_streams& streams, cpu_pool* host = nullptr);

  void start(listener l) override;
  void publish(const std::string& exchange, const std::string& routing_key,
               const std::shared_ptr<const broker::amqp::basic_properties>& properties, std::string body, bool confirm,
               answer_fn answered) override;
  void ack(int consumer, delivery_ref ref, bool multiple) override { settle(consumer, ref, {.ack = true, .multiple = multiple}); }
  void get(int consumer) override;
  void reject(int consumer, delivery_ref ref, bool requeue) override { settle(consumer, ref, {.requeue = requeue}); }
  void kill(int consumer) override;
  void start_consumer(int consumer) override;
  void crash(broker::node_id node) override;
  void restart(broker::node_id node) override;
  void partition(broker::node_id a, broker::node_id b) override;
  void heal(broker::node_id a, broker::node_id b) override;
  void fault_resources(broker::node_id node, const resource_fault& f) override;
  void resource_metrics(std::map<std::string, double>& values) const override;
  void start_measuring() override;
  std::optional<std::uint64_t> queue_depth(const std::string& queue) const override;
  broker::amqp::queue_stats totals() const override { return broker_.totals(); }
  broker::amqp::cluster_traffic traffic() const override { return broker_.traffic(); }

 private:
  struct subscriber {
    consumer_slot slot;
    broker::amqp::connection_id conn = 0;
    broker::amqp::channel_ref ch;
    broker::amqp::channel_id next_channel = 1;
  };
  broker::instant now() const { return {sim_.now().ns()}; }
  broker::node_id first_up(std::uint32_t preferred) const;
  void subscribe(int index);
  /// basic.ack (with `multiple`) or basic.reject (with `requeue`).
  struct settlement {
    bool ack = false;
    bool multiple = false;
    bool requeue = false;
  };
  /// Acks the delivery, or rejects it (requeued or not), once the frame has crossed the link.
  void settle(int consumer, delivery_ref ref, settlement how);
  /// Acts on the core's events: at once when ideal, else once the work of the calls that
  /// produced them (made at `origin`) has been priced and done; priced, `processed` runs
  /// when the calls' processes are done (ideal has no such moment and drops it).
  void handle_events(broker::node_id origin = {}, done_fn processed = {});
  /// Acts on `events`; reentrant: acting on them may make more calls.
  void release(std::vector<broker::amqp::event>& events);
  void on_delivery(const broker::amqp::delivery& d);
  /// Priced: the delivery crosses to its consumer's node and link before on_delivery().
  void send_delivery(broker::amqp::delivery d);
  void on_confirm(const broker::amqp::confirm& c);
  /// A priced call's events wait in a pooled slot, so closures carry one index and steady
  /// traffic allocates nothing: `now` leaves when its processes are done, `later` (confirms)
  /// when it is settled.
  struct parked {
    std::vector<broker::amqp::event> now, later;
    done_fn processed;
  };
  void released_now(std::uint32_t slot);
  void released_later(std::uint32_t slot);
  void release_parked(std::uint32_t slot, std::vector<broker::amqp::event> parked::*which);
  void open_producer(broker::node_id node);

  // Publishing. RabbitMQ's credit flow lets a channel have `publish_credit` messages that its
  // queues have not processed yet; past that the broker stops reading the publisher's socket,
  // and the publisher blocks (rabbit credit_flow_default_credit {400, 200}).
  static constexpr int publish_credit = 400;
  struct outgoing {
    std::string exchange, routing_key;
    std::shared_ptr<const broker::amqp::basic_properties> properties;
    std::string body;
    bool confirm = false;
    answer_fn answered;
  };
  /// Puts a publish on the producer's link.
  void send(outgoing o);
  /// The publish reaches the node: the core takes it.
  void arrive(outgoing o);
  void return_credit();
  void on_connection_closed(broker::amqp::connection_id conn);
  void watch_deadline();

  sim::simulator& sim_;
  const system_spec& spec_;
  broker::amqp::broker broker_;
  std::optional<cluster_resources> resources_;  // none when ideal
  broker::amqp::channel_ref producer_, confirming_;  // the producer's plain and confirm-mode channels
  std::uint64_t confirm_sequence_ = 0;
  std::unordered_map<std::uint64_t, answer_fn> awaiting_confirm_;
  slot_pool<parked> parked_;
  slot_pool<broker::amqp::delivery> deliveries_;  // on their way to consumers
  slot_pool<outgoing> publishes_;                 // on their way to the broker
  int credit_ = publish_credit;
  std::deque<outgoing> blocked_;
  std::vector<subscriber> subscribers_;
  resubscriptions retry_;
  std::unordered_map<std::uint64_t, int> by_channel_;  // delivery_ref::channel_on(conn, ch) -> consumer
  listener listener_;
  sim::event_id deadline_event_;
  sim::sim_time deadline_at_ = sim::sim_time::max();
};

}  // namespace mqlab::models
