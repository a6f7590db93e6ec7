// Messages carry their creation time, whether they count and a sequence number in the body, so
// consumers measure latency and count what each subscriber missed or received twice.
#include "models/jms_model.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "models/payload.h"

namespace mqlab::models {
namespace {

namespace jms = broker::jms;

struct payload {
  std::int64_t created_ns;
  std::uint64_t sequence;
  std::uint8_t measured;
};

// The name without ActiveMQ destination options ("orders?consumer.prefetchSize=1" -> "orders").
std::string name_of(const jms_consumer_spec& c) { return c.destination.substr(0, c.destination.find('?')); }

// The destination whose sends a consumer should see all of: its topic, or for a virtual-topic
// consumer queue the virtual topic, or its queue.
std::string source_of(const jms_consumer_spec& c) {
  const std::string name = name_of(c);
  if (c.kind == jms::destination_kind::queue) {
    if (auto topic = jms::virtual_topic_of_queue(name)) return *topic;
  }
  return name;
}

}  // namespace

jms_model::jms_model(sim::simulator& sim, const jms_spec& spec, const cost_model& costs,
                     const sim::random_streams& streams)
    : sim_(sim), spec_(spec) {
  if (!costs.ideal) {
    resources_.emplace(sim, costs, costs.jms, 1, streams, "jms");
    core_.meter().enable(true);
  }
  const auto conn = core_.connect({}, now()).value();
  producer_ = core_.create_session(conn, jms::ack_mode::auto_acknowledge).value();
  for (const auto& c : spec.consumers) {
    for (int i = 0; i < c.count; ++i) {
      member m{.spec = &c, .index = i, .service_rng = streams.stream(fmt::format("jms-{}-{}", c.name, i))};
      members_.push_back(std::move(m));
    }
  }
}

void jms_model::start() {
  for (std::size_t m = 0; m < members_.size(); ++m) {
    connect(m);
    const jms_consumer_spec& c = *members_[m].spec;
    if (c.offline_from) sim_.at(sim::sim_time() + *c.offline_from, [this, m] { disconnect(m); });
    if (c.offline_until) sim_.at(sim::sim_time() + *c.offline_until, [this, m] { connect(m); });
  }
}

void jms_model::connect(std::size_t m) {
  member& mb = members_[m];
  const jms_consumer_spec& c = *mb.spec;
  // A durable subscription belongs to a client id: the same one comes back after an outage.
  const std::string client_id = c.subscription.empty() ? "" : fmt::format("{}-{}", c.name, mb.index);
  mb.conn = core_.connect({.client_id = client_id}, now()).value();
  mb.session = core_.create_session(mb.conn, c.ack).value();
  mb.consumer = core_
                    .create_consumer(mb.session, {.kind = c.kind, .destination = c.destination, .selector = c.selector,
                                                  .subscription_name = c.subscription, .prefetch = c.prefetch},
                                     now())
                    .value();
  by_consumer_[mb.consumer] = m;
  mb.online = true;
  mb.pulls = core_.prefetch_of(mb.consumer) == 0;
  mb.pulling = false;
  drain();
  if (mb.pulls && !mb.busy) receive(m);
}

void jms_model::receive(std::size_t m) {
  member& mb = members_[m];
  if (!mb.online || !mb.pulls || mb.pulling) return;
  mb.pulling = true;
  const auto ask = [this, m, consumer = mb.consumer] {
    if (!members_[m].online || members_[m].consumer != consumer) return;
    (void)core_.pull(consumer, now());
    drain();
  };
  if (resources_) resources_->client_send(1 + static_cast<int>(m), true, broker::node_id{}, 64, ask);
  else ask();
}

void jms_model::disconnect(std::size_t m) {
  member& mb = members_[m];
  if (!mb.online) return;
  mb.online = false;
  mb.inbox.clear();  // delivered but unacknowledged: the core returns them on disconnect
  by_consumer_.erase(mb.consumer);
  core_.disconnect(mb.conn, now());
  drain();
}

void jms_model::send(const send_step& step, sim::sim_time created, bool measured, done_fn answered) {
  jms::message_spec spec;
  spec.content = jms::bytes_body{encode_payload(payload{created.ns(), sequence_++, measured}, step.message_bytes)};
  const jms::producer_qos qos{.mode = step.persistent ? jms::delivery_mode::persistent : jms::delivery_mode::non_persistent,
                              .priority = step.priority, .time_to_live_ms = step.time_to_live_ms};
  if (measured) {
    ++sent_;
    ++sent_to_[step.destination];
  }
  auto deliver = [this, &step, spec = std::move(spec), qos](done_fn settled) mutable {
    (void)core_.send(producer_, step.kind, step.destination, std::move(spec), qos, now());
    drain(std::move(settled));
  };
  if (!resources_) {
    deliver({});
    answered();
    return;
  }
  if (!step.persistent) answered();  // an asynchronous send: the producer goes on at once
  auto on_disk = std::make_shared<done_fn>(step.persistent ? std::move(answered) : done_fn{});
  const std::uint64_t bytes = step.message_bytes + 64;
  resources_->client_send(0, true, broker::node_id{}, bytes, [this, deliver = std::move(deliver), on_disk]() mutable {
    deliver([this, on_disk] {
      if (*on_disk) resources_->client_send(0, false, broker::node_id{}, 64, std::move(*on_disk));
    });
  });
}

void jms_model::drain(done_fn settled) {
  if (!resources_) {
    for (auto& d : core_.take_deliveries()) hand_over(std::move(d));
    arm();
    return;
  }
  const std::uint32_t slot = parked_.acquire(core_.take_deliveries());
  resources_->charge(
      core_.meter().rows(), broker::node_id{},
      [this, slot] {
        for (auto& d : parked_[slot]) {
          const auto it = by_consumer_.find(d.consumer);
          if (it == by_consumer_.end()) continue;
          const std::uint64_t bytes = d.msg->size + 64;
          const std::uint32_t held = in_transit_.acquire(std::move(d));
          resources_->client_send(1 + static_cast<int>(it->second), false, broker::node_id{}, bytes,
                                  [this, held] { hand_over(in_transit_.take(held)); });
        }
        parked_[slot].clear();
        parked_.release(slot);
      },
      std::move(settled));
  core_.meter().clear();
  arm();
}

void jms_model::hand_over(jms::delivery d) {
  const auto it = by_consumer_.find(d.consumer);
  if (it == by_consumer_.end()) return;  // its consumer went away meanwhile; the core took it back
  member& mb = members_[it->second];
  mb.pulling = false;  // what a pull asked for has come
  mb.inbox.push_back(std::move(d));
  if (!mb.busy) work(it->second);
}

void jms_model::work(std::size_t m) {
  member& mb = members_[m];
  if (mb.inbox.empty() || !mb.online) {
    mb.busy = false;
    receive(m);  // a pull consumer asks for its next message
    return;
  }
  mb.busy = true;
  const auto consumer = mb.consumer;
  sim_.after(sim::duration::from_seconds(mb.spec->service.sample(mb.service_rng)), [this, m, consumer] {
    member& w = members_[m];
    // The member went offline (and maybe came back) meanwhile: that work was lost with it.
    if (!w.online || w.consumer != consumer || w.inbox.empty()) {
      w.busy = false;
      if (w.online) work(m);
      return;
    }
    const jms::delivery d = std::move(w.inbox.front());
    w.inbox.pop_front();
    const auto p = decode_payload<payload>(std::get<jms::bytes_body>(d.msg->spec.content).bytes);
    if (p.measured) {
      e2e_.record(sim_.now().ns() - p.created_ns);
      ++w.delivered;
      ++delivered_;
      auto& seen = seen_[w.spec->name];
      if (seen.size() <= p.sequence) seen.resize(p.sequence + 1);
      w.duplicates += seen[p.sequence];
      seen[p.sequence] = true;
    }
    const bool transacted = w.spec->ack == jms::ack_mode::session_transacted;
    const auto settle = [this, session = d.session, id = d.delivery_id, transacted] {
      (void)core_.acknowledge(session, id, now());
      if (transacted) (void)core_.commit(session, now());
      drain();
    };
    w.busy = false;
    if (resources_) resources_->client_send(1 + static_cast<int>(m), true, broker::node_id{}, 64, settle);
    else settle();
    if (!members_[m].busy) work(m);
  });
}

void jms_model::arm() {
  const auto deadline = core_.next_deadline();
  if (deadline == broker::instant::never() || deadline.ns >= armed_.ns()) return;
  armed_ = sim::sim_time(std::max(deadline.ns, sim_.now().ns()));
  sim_.at(armed_, [this] {
    armed_ = sim::sim_time::max();
    core_.advance(now());
    drain();
  });
}

void jms_model::start_measuring() { warmup_totals_ = totals(); }

broker::jms::destination_stats jms_model::totals() const {
  jms::destination_stats t{};
  std::set<std::pair<jms::destination_kind, std::string>> seen;
  for (const auto& c : spec_.consumers) seen.emplace(c.kind, name_of(c));
  for (const auto& [kind, name] : seen) {
    const auto s = core_.stats(kind, name);
    t.expired += s.expired;
    t.dead_lettered += s.dead_lettered;
    t.dropped += s.dropped;
  }
  return t;
}

std::int64_t jms_model::backlog() const {
  std::int64_t n = 0;
  for (const auto& c : spec_.consumers) {
    if (c.kind == jms::destination_kind::queue) {
      n += static_cast<std::int64_t>(core_.queue_depth(name_of(c)));
    }
  }
  for (const auto& m : members_) {
    if (!m.spec->subscription.empty()) {
      n += static_cast<std::int64_t>(core_.subscription_depth(fmt::format("{}-{}", m.spec->name, m.index), m.spec->subscription));
    }
  }
  return n;
}

void jms_model::collect(std::map<std::string, double>& v, sim::histogram& e2e) const {
  if (!enabled()) return;
  e2e.merge(e2e_);
  v["jms.sent"] = static_cast<double>(sent_);
  v["jms.delivered"] = static_cast<double>(delivered_);
  v["jms.backlog"] = static_cast<double>(backlog());
  for (const auto& m : members_) {
    const std::string base = "consumer." + m.spec->name;
    v[base + ".delivered"] += static_cast<double>(m.delivered);
    v[base + ".duplicates"] += static_cast<double>(m.duplicates);
    if (m.spec->count > 1) v[fmt::format("{}.{}.delivered", base, m.index)] = static_cast<double>(m.delivered);
  }
  for (const auto& c : spec_.consumers) {
    const auto it = seen_.find(c.name);
    const double unique = it == seen_.end() ? 0.0 : static_cast<double>(std::count(it->second.begin(), it->second.end(), true));
    const auto sent = sent_to_.find(source_of(c));
    v["consumer." + c.name + ".missed"] = (sent == sent_to_.end() ? 0.0 : static_cast<double>(sent->second)) - unique;
  }
  const jms::destination_stats end = totals();
  v["jms.expired"] = static_cast<double>(end.expired - warmup_totals_.expired);
  v["jms.dead_lettered"] = static_cast<double>(end.dead_lettered - warmup_totals_.dead_lettered);
  v["jms.dropped"] = static_cast<double>(end.dropped - warmup_totals_.dropped);
}

}  // namespace mqlab::models
