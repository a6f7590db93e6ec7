// The simulated AMQP side: broker-core calls at virtual times, the core's events turned into
// the listener's calls, and the recovery of consumers whose connection or queue went away.
#include "models/amqp_model.h"

#include <algorithm>

namespace mqlab::models {

namespace amqp = broker::amqp;

namespace {

amqp::channel_ref channel_of(delivery_ref d) {
  return {static_cast<amqp::connection_id>(d.connection()), d.channel_number()};
}

}  // namespace

amqp_model::amqp_model(sim::simulator& sim, const system_spec& spec)
    : sim_(sim),
      spec_(spec),
      broker_(spec.broker.cluster),
      subscribers_(per_consumer<subscriber>(spec.consumers)),
      retry_(sim, subscribers_.size(), [this](int i) {
        subscribe(i);
        handle_events();
      }) {}

void amqp_model::start(listener l) {
  listener_ = std::move(l);
  declare_topology(broker_, spec_.broker);
  producer_ = {broker_.open_connection("/", {}, broker::node_id{spec_.producer_node}).value(), 1};
  (void)broker_.channel_open(producer_);
  for (std::size_t i = 0; i < subscribers_.size(); ++i) subscribe(static_cast<int>(i));
  handle_events();
}

void amqp_model::publish(const std::string& exchange, const std::string& routing_key,
                         const std::shared_ptr<const amqp::basic_properties>& properties, std::string body) {
  const std::string stamp = body.substr(0, 16);  // what the listener reads of a refused message
  auto r = broker_.basic_publish(producer_, exchange, routing_key, true, properties, std::move(body), now());
  if (!r) {
    // The producer's channel was closed (e.g. publishing to a missing exchange): reopen it.
    if (listener_.returned) listener_.returned(stamp);
    producer_.ch = static_cast<amqp::channel_id>(producer_.ch + 1);
    (void)broker_.channel_open(producer_);
  }
  handle_events();
}

void amqp_model::ack(int, delivery_ref ref) {
  (void)broker_.basic_ack(channel_of(ref), ref.tag, false, now());
  handle_events();
}

void amqp_model::kill(int consumer) {
  subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
  retry_.kill(consumer);
  broker_.close_connection(s.conn, now());  // manual-ack deliveries go back to the queue
  s.conn = 0;
  handle_events();
}

void amqp_model::crash(broker::node_id node) {
  broker_.crash_node(node, now());
  handle_events();
}

void amqp_model::restart(broker::node_id node) {
  broker_.restart_node(node, now());
  handle_events();
}

void amqp_model::partition(broker::node_id a, broker::node_id b) {
  broker_.partition(a, b);
  handle_events();
}

void amqp_model::heal(broker::node_id a, broker::node_id b) {
  broker_.heal(a, b, now());
  handle_events();
}

std::optional<std::uint64_t> amqp_model::queue_depth(const std::string& queue) const {
  return models::queue_depth(broker_, queue);
}

broker::node_id amqp_model::first_up(std::uint32_t preferred) const {
  const std::uint32_t nodes = std::max(1u, spec_.broker.cluster.nodes);
  for (std::uint32_t i = 0; i < nodes; ++i) {
    const broker::node_id n{(preferred + i) % nodes};
    if (broker_.node_up(n)) return n;
  }
  return broker::node_id{preferred};
}

void amqp_model::subscribe(int index) {
  subscriber& s = subscribers_[static_cast<std::size_t>(index)];
  if (!retry_.alive(index)) return;
  const auto& group = *s.slot.group;
  if (s.conn == 0) {
    auto conn = broker_.open_connection("/", now(), first_up(group.node));
    if (!conn) {
      retry_.later(index);
      return;
    }
    s.conn = *conn;
    s.next_channel = 1;
  }
  s.ch = {s.conn, s.next_channel++};
  (void)broker_.channel_open(s.ch);
  by_channel_[{s.ch.conn, s.ch.ch}] = index;
  if (group.prefetch) (void)broker_.basic_qos(s.ch, group.prefetch, false, now());
  if (!broker_.basic_consume(s.ch, {.queue = group.queue, .no_ack = group.auto_ack}, now())) {
    retry_.later(index);  // the queue is missing or down: try again shortly
  }
}

void amqp_model::handle_events() {
  while (!broker_.events().empty()) {
    for (auto& e : broker_.take_events()) {
      if (auto* d = std::get_if<amqp::delivery>(&e)) {
        auto it = by_channel_.find({d->to.conn, d->to.ch});
        if (it == by_channel_.end()) continue;
        const subscriber& s = subscribers_[static_cast<std::size_t>(it->second)];
        if (!retry_.alive(it->second) || s.conn != d->to.conn) continue;
        listener_.delivered(it->second, {delivery_ref::channel_on(d->to.conn, d->to.ch), d->delivery_tag}, d->msg->body);
      } else if (auto* r = std::get_if<amqp::returned>(&e)) {
        if (listener_.returned) listener_.returned(r->msg->body);
      } else if (auto* cancelled = std::get_if<amqp::consumer_cancelled>(&e)) {
        auto it = by_channel_.find({cancelled->to.conn, cancelled->to.ch});
        if (it != by_channel_.end()) retry_.later(it->second);
      } else if (auto* closed = std::get_if<amqp::connection_closed>(&e)) {
        on_connection_closed(closed->conn);
      }
    }
  }
  watch_deadline();
}

void amqp_model::on_connection_closed(amqp::connection_id conn) {
  if (conn == producer_.conn) {
    if (auto fresh = broker_.open_connection("/", now(), first_up(spec_.producer_node))) {
      producer_ = {*fresh, 1};
      (void)broker_.channel_open(producer_);
    }
  }
  for (std::size_t i = 0; i < subscribers_.size(); ++i) {
    subscriber& s = subscribers_[i];
    if (s.conn != conn) continue;
    listener_.reset(static_cast<int>(i));
    s.conn = 0;
    retry_.later(static_cast<int>(i));
  }
}

void amqp_model::watch_deadline() {
  const broker::instant due = broker_.next_deadline();
  if (due == broker::instant::never()) return;
  const sim::sim_time at(due.ns);
  if (at >= deadline_at_) return;
  sim_.cancel(deadline_event_);
  deadline_at_ = at;
  deadline_event_ = sim_.at(at, [this] {
    deadline_at_ = sim::sim_time::max();
    broker_.advance(now());
    handle_events();
  });
}

}  // namespace mqlab::models
