// The simulated AMQP side: broker-core calls at virtual times, the core's events turned into
// the listener's calls, and the recovery of consumers whose connection or queue went away.
#include "models/amqp_model.h"

#include <algorithm>

#include <fmt/format.h>

namespace mqlab::models {

namespace amqp = broker::amqp;

namespace {

amqp::channel_ref channel_of(delivery_ref d) {
  return {static_cast<amqp::connection_id>(d.connection()), d.channel_number()};
}

}  // namespace

amqp_model::amqp_model(sim::simulator& sim, const system_spec& spec, const sim::random_streams& streams, cpu_pool* host)
    : sim_(sim),
      spec_(spec),
      broker_(spec.broker.cluster),
      subscribers_(per_consumer<subscriber>(spec.consumers)),
      retry_(sim, subscribers_.size(), [this](int i) {
        subscribe(i);
        handle_events(first_up(subscribers_[static_cast<std::size_t>(i)].slot.group->node));
      }) {
  if (!spec.costs.ideal) {
    resources_.emplace(sim, spec.costs, spec.costs.amqp, std::max(1u, spec.broker.cluster.nodes), streams, "amqp", host);
    broker_.meter().enable(true);
  }
}

void amqp_model::start(listener l) {
  listener_ = std::move(l);
  declare_topology(broker_, spec_.broker);
  broker_.meter().clear();  // definitions load at boot, before the clock starts
  open_producer(broker::node_id{spec_.producer_node});
  for (std::size_t i = 0; i < subscribers_.size(); ++i) {
    const consumer_slot& slot = subscribers_[i].slot;
    if (slot.index < slot.group->initial_count()) subscribe(static_cast<int>(i));
    else retry_.kill(static_cast<int>(i));  // an elastic group's consumer not started yet
  }
  handle_events();
}

void amqp_model::open_producer(broker::node_id node) {
  auto conn = broker_.open_connection("/", now(), node);
  if (!conn) return;
  producer_ = {*conn, 1};
  confirming_ = {*conn, 2};
  (void)broker_.channel_open(producer_);
  (void)broker_.channel_open(confirming_);
  (void)broker_.confirm_select(confirming_);
  confirm_sequence_ = 0;
  // Publishes waiting for a confirm on the old connection will never hear one: they failed,
  // as a client library fails a closed channel's outstanding confirms.
  for (auto& [seq, answered] : awaiting_confirm_) answered(false);
  awaiting_confirm_.clear();
}

void amqp_model::publish(const std::string& exchange, const std::string& routing_key,
                         const std::shared_ptr<const amqp::basic_properties>& properties, std::string body, bool confirm,
                         answer_fn answered) {
  outgoing o{exchange, routing_key, properties, std::move(body), confirm, std::move(answered)};
  if (!resources_) arrive(std::move(o));
  else if (credit_ > 0) send(std::move(o));
  else blocked_.push_back(std::move(o));  // flow control: the publisher's socket stops draining
}

void amqp_model::send(outgoing o) {
  --credit_;
  const bool confirm = o.confirm;
  const std::uint64_t bytes = o.body.size() + 64;
  const std::uint32_t held = publishes_.acquire(std::move(o));
  done_fn written;
  // Without confirms the publisher goes on once its frames are written (moved out first: the
  // answer may publish again, and the pool may grow).
  if (!confirm) written = [this, held] { std::exchange(publishes_[held].answered, [](bool) {})(true); };
  resources_->client_send(0, true, broker::node_id{spec_.producer_node}, bytes,
                          [this, held] { arrive(publishes_.take(held)); }, std::move(written));
}

void amqp_model::arrive(outgoing o) {
  const std::string stamp = o.body.substr(0, 16);  // what the listener reads of a refused message
  amqp::channel_ref& ch = o.confirm ? confirming_ : producer_;
  auto r = broker_.basic_publish(ch, o.exchange, o.routing_key, true, o.properties, std::move(o.body), now());
  if (!r) {
    // The producer's channel was closed (e.g. publishing to a missing exchange): reopen it.
    if (listener_.returned) listener_.returned(stamp);
    ch.ch = static_cast<amqp::channel_id>(std::max(producer_.ch, confirming_.ch) + 1);
    (void)broker_.channel_open(ch);
    if (o.confirm) {
      (void)broker_.confirm_select(ch);
      confirm_sequence_ = 0;
    }
    o.answered(!o.confirm);  // a confirming publisher sees its channel close
  } else if (o.confirm) {
    awaiting_confirm_.emplace(++confirm_sequence_, std::move(o.answered));
  } else {
    o.answered(true);
  }
  // Priced, the channel's credit comes back once its queues have processed the message.
  handle_events(broker::node_id{spec_.producer_node}, [this] { return_credit(); });
}

void amqp_model::return_credit() {
  ++credit_;
  while (credit_ > 0 && !blocked_.empty()) {
    outgoing next = std::move(blocked_.front());
    blocked_.pop_front();
    send(std::move(next));
  }
}

void amqp_model::settle(int consumer, delivery_ref ref, settlement how) {
  const subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
  const broker::node_id node = first_up(s.slot.group->node);
  const auto settle = [this, ref, node, how] {
    if (how.ack) (void)broker_.basic_ack(channel_of(ref), ref.tag, how.multiple, now());
    else (void)broker_.basic_reject(channel_of(ref), ref.tag, how.requeue, now());
    handle_events(node);
  };
  if (!resources_) {
    settle();
    return;
  }
  resources_->client_send(1 + consumer, true, node, 64, settle);
}

void amqp_model::get(int consumer) {
  const broker::node_id node = first_up(subscribers_[static_cast<std::size_t>(consumer)].slot.group->node);
  const auto ask = [this, consumer, node] {
    subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
    const auto& group = *s.slot.group;
    std::optional<amqp::get_ok> got;
    if (s.conn != 0 && retry_.alive(consumer)) {
      auto r = broker_.basic_get(s.ch, group.queue, group.auto_ack, now());
      if (r) got = std::move(*r);
      else retry_.later(consumer);  // the queue is missing or down, which closed the channel: open another
    }
    const delivery_ref ref{delivery_ref::channel_on(s.ch.conn, s.ch.ch), got ? got->delivery_tag : 0};
    auto answer = [this, consumer, ref, got] {
      if (got) listener_.delivered(consumer, ref, got->msg->body());
      else listener_.empty(consumer);
    };
    if (!resources_) {
      handle_events();
      answer();
      return;
    }
    // get-ok carries the message from its queue's node; get-empty is a bare frame.
    const std::uint64_t bytes = got ? got->msg->body_size() + 64 : 64;
    const broker::node_id from = got ? broker_.owner_of("/", group.queue).value_or(node) : node;
    handle_events(node, [this, consumer, node, from, bytes, answer] {
      const auto down = [this, consumer, node, bytes, answer] { resources_->client_send(1 + consumer, false, node, bytes, answer); };
      if (from == node) down();
      else resources_->hop(from, node, bytes, down);
    });
  };
  if (!resources_) ask();
  else resources_->client_send(1 + consumer, true, node, 64, ask);
}

void amqp_model::kill(int consumer) {
  subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
  retry_.kill(consumer);
  broker_.close_connection(s.conn, now());  // manual-ack deliveries go back to the queue
  s.conn = 0;
  handle_events();
}

void amqp_model::start_consumer(int consumer) {
  retry_.revive(consumer);
  subscribe(consumer);
  handle_events();
}

void amqp_model::crash(broker::node_id node) {
  broker_.crash_node(node, now());
  handle_events(first_up(node.value));
}

void amqp_model::restart(broker::node_id node) {
  broker_.restart_node(node, now());
  handle_events(node);
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
  by_channel_[delivery_ref::channel_on(s.ch.conn, s.ch.ch)] = index;
  if (group.pull) return;  // a poller only needs its channel: it asks with basic.get
  if (group.prefetch) (void)broker_.basic_qos(s.ch, group.prefetch, false, now());
  if (!broker_.basic_consume(s.ch, {.queue = group.queue, .no_ack = group.auto_ack}, now())) {
    retry_.later(index);  // the queue is missing or down: try again shortly
  }
}

void amqp_model::handle_events(broker::node_id origin, done_fn processed) {
  if (!resources_) {
    while (!broker_.events().empty()) {
      auto events = broker_.take_events();
      release(events);
    }
    watch_deadline();
    return;
  }
  // Deliveries and returns leave when the processes are done; confirms once disks and mirrors are.
  const std::uint32_t slot = parked_.acquire();
  parked& p = parked_[slot];
  broker_.take_events_into(p.now);
  const auto confirms = std::stable_partition(p.now.begin(), p.now.end(),
                                              [](const amqp::event& e) { return !std::holds_alternative<amqp::confirm>(e); });
  std::move(confirms, p.now.end(), std::back_inserter(p.later));
  p.now.erase(confirms, p.now.end());
  p.processed = std::move(processed);
  resources_->charge(broker_.meter().rows(), origin, [this, slot] { released_now(slot); },
                     [this, slot] { released_later(slot); });
  broker_.meter().clear();
  watch_deadline();
}

void amqp_model::released_now(std::uint32_t slot) {
  done_fn after = std::move(parked_[slot].processed);
  release_parked(slot, &parked::now);
  if (after) after();
}

void amqp_model::released_later(std::uint32_t slot) {
  release_parked(slot, &parked::later);
  parked_.release(slot);
}

void amqp_model::release_parked(std::uint32_t slot, std::vector<amqp::event> parked::*which) {
  // Work on a vector of our own: what release() sets off may park more calls (parked_ grows).
  std::vector<amqp::event> batch;
  batch.swap(parked_[slot].*which);
  release(batch);
  batch.clear();
  (parked_[slot].*which).swap(batch);  // keep the capacity for the slot's next call
}

void amqp_model::on_delivery(const amqp::delivery& d) {
  auto it = by_channel_.find(delivery_ref::channel_on(d.to.conn, d.to.ch));
  if (it == by_channel_.end()) return;
  const subscriber& s = subscribers_[static_cast<std::size_t>(it->second)];
  if (!retry_.alive(it->second) || s.conn != d.to.conn) return;
  listener_.delivered(it->second, {delivery_ref::channel_on(d.to.conn, d.to.ch), d.delivery_tag}, d.msg->body());
}

void amqp_model::on_confirm(const amqp::confirm& c) {
  if (c.to != confirming_) return;
  auto it = awaiting_confirm_.find(c.sequence);
  if (it == awaiting_confirm_.end()) return;
  answer_fn answered = std::move(it->second);
  awaiting_confirm_.erase(it);
  answered(c.ack);
}

void amqp_model::release(std::vector<amqp::event>& batch) {
  for (auto& e : batch) {
    if (auto* d = std::get_if<amqp::delivery>(&e)) {
      if (resources_) send_delivery(std::move(*d));
      else on_delivery(*d);
    } else if (auto* c = std::get_if<amqp::confirm>(&e)) {
      if (!resources_) {
        on_confirm(*c);
        continue;
      }
      const amqp::confirm conf = *c;
      resources_->client_send(0, false, broker::node_id{spec_.producer_node}, 64, [this, conf] { on_confirm(conf); });
    } else if (auto* r = std::get_if<amqp::returned>(&e)) {
      if (listener_.returned) listener_.returned(r->msg->body());
    } else if (auto* cancelled = std::get_if<amqp::consumer_cancelled>(&e)) {
      auto it = by_channel_.find(delivery_ref::channel_on(cancelled->to.conn, cancelled->to.ch));
      if (it != by_channel_.end()) retry_.later(it->second);
    } else if (auto* closed = std::get_if<amqp::connection_closed>(&e)) {
      on_connection_closed(closed->conn);
    }
  }
}

void amqp_model::send_delivery(amqp::delivery d) {
  // The message crosses from the queue's node to the consumer's node, then to the consumer.
  auto it = by_channel_.find(delivery_ref::channel_on(d.to.conn, d.to.ch));
  if (it == by_channel_.end()) return;
  const int consumer = it->second;
  const subscriber& s = subscribers_[static_cast<std::size_t>(consumer)];
  const broker::node_id to = first_up(s.slot.group->node);
  const broker::node_id from = broker_.owner_of("/", s.slot.group->queue).value_or(to);
  const std::uint64_t bytes = d.msg->body_size() + 64;
  const std::uint32_t held = deliveries_.acquire(std::move(d));
  const auto to_consumer = [this, consumer, to, bytes, held] {
    resources_->client_send(1 + consumer, false, to, bytes, [this, held] { on_delivery(deliveries_.take(held)); });
  };
  if (from == to) to_consumer();
  else resources_->hop(from, to, bytes, to_consumer);
}

void amqp_model::on_connection_closed(amqp::connection_id conn) {
  if (conn == producer_.conn) open_producer(first_up(spec_.producer_node));
  for (std::size_t i = 0; i < subscribers_.size(); ++i) {
    subscriber& s = subscribers_[i];
    if (s.conn != conn) continue;
    listener_.reset(static_cast<int>(i));
    s.conn = 0;
    retry_.later(static_cast<int>(i));
  }
}

void amqp_model::fault_resources(broker::node_id node, const resource_fault& f) {
  if (!resources_ || node.value >= resources_->nodes()) return;
  switch (f.kind) {
    case resource_fault_kind::slow: resources_->slow(node, f.factor); break;
    case resource_fault_kind::pause: resources_->pause(node, f.length); break;
    case resource_fault_kind::degrade: {
      resources_->degrade(node, f);
      if (spec_.producer_node == node.value) resources_->degrade_client(0, f);
      for (std::size_t i = 0; i < subscribers_.size(); ++i) {
        if (subscribers_[i].slot.group->node == node.value) resources_->degrade_client(1 + static_cast<int>(i), f);
      }
      break;
    }
  }
}

void amqp_model::resource_metrics(std::map<std::string, double>& values) const {
  if (!resources_) return;
  for (std::uint32_t n = 0; n < resources_->nodes(); ++n) {
    values[fmt::format("node.{}.cpu", n)] = resources_->utilization(broker::node_id{n});
    values[fmt::format("node.{}.disk", n)] = resources_->disk_utilization(broker::node_id{n});
  }
  values["servers.cpu"] += resources_->busy_cores();
  if (auto busy = resources_->client_utilization()) values["clients.cpu"] = *busy;
}

void amqp_model::start_measuring() {
  if (resources_) resources_->start_measuring();
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
