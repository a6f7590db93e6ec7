// The simulated JMS side: the core in virtual time, consumers as simulated workers; what they
// receive is counted by the shared jms_tally.
#include "models/jms_model.h"

#include <algorithm>

#include <fmt/format.h>


namespace mqlab::models {
namespace jms = broker::jms;

jms_model::jms_model(sim::simulator& sim, const jms_spec& spec, const cost_model& costs,
                     const sim::random_streams& streams, cpu_pool* host)
    : sim_(sim), spec_(spec), tally_(spec, streams.stream("jms-keys")) {
  if (!costs.ideal) {
    resources_.emplace(sim, costs, costs.jms, 1, streams, "jms", host);
    core_.meter().enable(true);
  }
  const auto conn = core_.connect({}, now()).value();
  producer_ = core_.create_session(conn, jms::ack_mode::auto_acknowledge).value();
  for (const auto& c : spec.consumers) {
    for (int i = 0; i < c.count; ++i) {
      member m{.spec = &c, .index = i, .service_rng = streams.stream(fmt::format("jms-{}-{}", c.name, i)),
               .fail_rng = streams.stream(fmt::format("jms-fail-{}-{}", c.name, i))};
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
  mb.conn = core_.connect({.client_id = client_id_of(c, mb.index)}, now()).value();
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
  auto next = tally_.next(step, created, measured);
  spec.content = jms::bytes_body{std::move(next.body)};
  if (!next.group.empty()) spec.properties.emplace("JMSXGroupID", std::move(next.group));
  const jms::producer_qos qos{.mode = step.persistent ? jms::delivery_mode::persistent : jms::delivery_mode::non_persistent,
                              .priority = step.priority, .time_to_live_ms = step.time_to_live_ms};
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
    const std::string& body = std::get<jms::bytes_body>(d.msg->spec.content).bytes;
    // A failed message is rolled back (ActiveMQ's consumer when onMessage throws, a transacted
    // session's rollback): the redelivery policy decides when it comes back, or the DLQ.
    const bool failed = w.spec->failure.any() && w.spec->failure.fails(jms_tally::stamp_of(body), w.fail_rng);
    if (failed) tally_.failed(*w.spec);
    else tally_.received(*w.spec, w.index, body, sim_.now());
    const bool transacted = w.spec->ack == jms::ack_mode::session_transacted;
    const auto settle = [this, session = d.session, id = d.delivery_id, transacted, failed] {
      if (failed) {
        (void)core_.redeliver(session, id, now());
      } else {
        (void)core_.acknowledge(session, id, now());
        if (transacted) (void)core_.commit(session, now());
      }
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

void jms_model::start_measuring() {
  tally_.start_measuring(tally_.totals(core_));
  if (resources_) resources_->start_measuring();
}

std::int64_t jms_model::backlog() const { return tally_.backlog(core_); }

void jms_model::collect(std::map<std::string, double>& v, sim::histogram& e2e) const {
  if (!enabled()) return;
  tally_.collect(v, e2e, backlog(), tally_.totals(core_));
  if (resources_) v["servers.cpu"] += resources_->busy_cores();
}

}  // namespace mqlab::models
