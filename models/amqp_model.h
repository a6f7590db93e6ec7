// The AMQP side of a simulated system: the broker core in virtual time, with the scenario's
// topology, a producer connection and one connection per consumer. Consumers whose queue or
// node goes away resubscribe after a recovery interval, as client libraries do; message
// expiry runs at the core's deadlines.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "broker/amqp/broker.h"
#include "models/amqp_side.h"
#include "sim/simulator.h"

namespace mqlab::models {

class amqp_model final : public amqp_side {
 public:
  /// `sim` and `spec` must outlive the model.
  amqp_model(sim::simulator& sim, const system_spec& spec);

  void start(listener l) override;
  void publish(const std::string& exchange, const std::string& routing_key,
               const std::shared_ptr<const broker::amqp::basic_properties>& properties, std::string body) override;
  void ack(int consumer, delivery_ref ref) override;
  void kill(int consumer) override;
  void crash(broker::node_id node) override;
  void restart(broker::node_id node) override;
  void partition(broker::node_id a, broker::node_id b) override;
  void heal(broker::node_id a, broker::node_id b) override;
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
  void handle_events();
  void on_connection_closed(broker::amqp::connection_id conn);
  void watch_deadline();

  sim::simulator& sim_;
  const system_spec& spec_;
  broker::amqp::broker broker_;
  broker::amqp::channel_ref producer_;
  std::vector<subscriber> subscribers_;
  resubscriptions retry_;
  std::map<std::pair<broker::amqp::connection_id, broker::amqp::channel_id>, int> by_channel_;
  listener listener_;
  sim::event_id deadline_event_;
  sim::sim_time deadline_at_ = sim::sim_time::max();
};

}  // namespace mqlab::models
