// The parts of the AMQP side contract that every side shares.
#include "models/amqp_side.h"

#include <map>
#include <thread>

namespace mqlab::models {

std::vector<consumer_slot> consumer_slots(const std::vector<consumer_group_spec>& groups) {
  std::vector<consumer_slot> out;
  for (const auto& g : groups) {
    for (int i = 0; i < g.count; ++i) out.push_back({&g, i});
  }
  return out;
}

void declare_topology(broker::amqp::broker& broker, const broker_spec& spec) {
  const auto conn = broker.open_connection("/", {}, broker::node_id{0}).value();
  const broker::amqp::channel_ref admin{conn, 1};
  (void)broker.channel_open(admin);
  for (const auto& e : spec.exchanges) (void)broker.exchange_declare(admin, {.name = e.name, .type = e.type, .durable = true});
  std::map<std::uint32_t, broker::amqp::channel_ref> on_node{{0, admin}};
  for (const auto& q : spec.queues) {
    // A queue lives on the node it is declared on.
    auto [it, fresh] = on_node.try_emplace(q.node);
    if (fresh) {
      it->second = {broker.open_connection("/", {}, broker::node_id{q.node}).value(), 1};
      (void)broker.channel_open(it->second);
    }
    (void)broker.queue_declare(it->second, {.name = q.name, .durable = q.durable, .arguments = q.arguments}, {});
  }
  for (const auto& b : spec.bindings) (void)broker.queue_bind(admin, b.queue, b.exchange, b.key, b.arguments);
}

resubscriptions::resubscriptions(sim::simulator& sim, std::size_t consumers, std::function<void(int)> subscribe)
    : sim_(sim), pending_(consumers), dead_(consumers), subscribe_(std::move(subscribe)) {}

void resubscriptions::later(int consumer) {
  const auto i = static_cast<std::size_t>(consumer);
  if (pending_[i] || dead_[i]) return;
  pending_[i] = true;
  sim_.after(sim::duration::seconds(1), [this, consumer, i] {
    pending_[i] = false;
    if (!dead_[i]) subscribe_(consumer);
  });
}

std::optional<std::uint64_t> queue_depth(const broker::amqp::broker& broker, const std::string& queue) {
  const auto info = broker.inspect_queue("/", queue);
  if (!info) return std::nullopt;
  return std::uint64_t{info->ready} + info->unacked;
}

void amqp_side::wait_until(std::chrono::steady_clock::time_point t) { std::this_thread::sleep_until(t); }

}  // namespace mqlab::models
