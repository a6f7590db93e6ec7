// JMS core: backlogs, dispatch to consumers within their prefetch, acknowledgement by mode,
// redelivery with the redelivery policy, dead-lettering and expiry.
#include <algorithm>

#include <fmt/format.h>

#include "broker/jms/broker_state.h"

namespace mqlab::broker::jms {

namespace {

constexpr std::int64_t ns_per_ms = 1'000'000;
const std::string shared_dlq = "ActiveMQ.DLQ";

error fail(error_code code, std::string text) { return error{code, std::move(text)}; }

bool is_expired(const message& m, instant now) { return m.expiration_ms != 0 && now.ns / ns_per_ms >= m.expiration_ms; }

}  // namespace

void backlog::push_back(pending p) {
  lanes[lane_of(*p.msg)].push_back(std::move(p));
  ++size;
}

void backlog::push_front(pending p) {
  lanes[lane_of(*p.msg)].push_front(std::move(p));
  ++size;
}

std::unique_ptr<endpoint> broker::state::new_endpoint(std::string key, const destination& d) {
  auto e = std::make_unique<endpoint>(endpoint{.id = next_endpoint++, .key = std::move(key), .dest = d, .stats = &stats[d]});
  const auto policy = prioritized.find(d);
  e->waiting.prioritized = policy != prioritized.end() ? policy->second : config.prioritized_messages;
  return e;
}

endpoint& broker::state::queue_endpoint(const std::string& name) {
  const std::string key = queue_key(name);
  auto it = endpoints.find(key);
  if (it != endpoints.end()) return *it->second;
  // ActiveMQ creates destinations on first use.
  auto& e = *endpoints.emplace(key, new_endpoint(key, destination::queue(name))).first->second;
  if (auto topic = virtual_topic_of_queue(name)) virtual_queues[*topic].insert(name);
  return e;
}

void broker::state::enqueue(endpoint& e, pending p, instant now, bool dispatch_now) {
  meter.charge(site_of(e), work_kind::enqueue);
  meter.charge(site_of(e), work_kind::bytes, static_cast<std::uint32_t>(p.msg->size));
  if (p.msg->persistent() && (!e.dest.is_topic() || e.durable) && p.redeliveries == 0) {
    // KahaDB journals a persistent message for a queue or a durable subscriber, synced.
    meter.charge(site_of(e), work_kind::persist_bytes, static_cast<std::uint32_t>(p.msg->size));
    meter.charge(site_of(e), work_kind::fsync_request);
  }
  if (p.msg->expiration_ms != 0) deadlines.emplace(p.msg->expiration_ms * ns_per_ms, e.key);
  if (p.available_ns > now.ns) deadlines.emplace(p.available_ns, e.key);
  if (p.redeliveries > 0) e.waiting.push_front(std::move(p));
  else e.waiting.push_back(std::move(p));
  if (dispatch_now) dispatch(e, now);
}

void broker::state::publish(const destination& dest, const message_ptr& msg, connection_id from, instant now) {
  if (!dest.is_topic()) {
    endpoint& q = queue_endpoint(dest.name);
    ++q.stats->enqueued;
    enqueue(q, {msg}, now);
    return;
  }
  ++stats[dest].enqueued;
  const auto view = [&msg](std::string_view id) { return msg->lookup(id); };
  // Dispatching opens and closes no subscription, so the list is stable while we walk it. An
  // offline durable subscriber keeps non-persistent messages too, as ActiveMQ 5 does (in memory
  // or its temp store: a broker restart loses them, a subscriber's absence does not).
  for (endpoint* sub : topic_subscriptions[dest.name]) {
    endpoint& e = *sub;
    if (e.filter) meter.charge({}, work_kind::selector_evaluation);
    if (e.filter && !e.filter->matches(view)) continue;
    if (e.no_local && e.owner == from) continue;
    enqueue(e, {msg}, now);
  }
  if (is_virtual_topic(dest.name)) {
    // Each consumer queue gets its own copy: topic semantics between groups, queue semantics within.
    for (const std::string& queue : virtual_queues[dest.name]) {
      endpoint& q = queue_endpoint(queue);
      ++q.stats->enqueued;
      enqueue(q, {msg}, now);
    }
  }
}

consumer_state* broker::state::pick(endpoint& e, const message& m) {
  if (e.dest.is_topic()) return any_with_credit(e, m);
  const value group = m.lookup("JMSXGroupID");
  const auto* name = std::get_if<std::string>(&group);
  if (name == nullptr) return any_with_credit(e, m);
  if (auto owner = e.groups.find(*name); owner != e.groups.end()) {
    // The group waits for its own consumer, which keeps the group's messages in order.
    consumer_state& c = consumers.at(owner->second);
    return c.has_credit() ? &c : nullptr;
  }
  consumer_state* c = any_with_credit(e, m);
  if (c != nullptr) e.groups.emplace(*name, c->id);
  return c;
}

consumer_state* broker::state::any_with_credit(endpoint& e, const message& m) {
  const auto view = [&m](std::string_view id) { return m.lookup(id); };
  const std::size_t n = e.consumers.size();
  for (std::size_t i = 0; i < n; ++i) {
    consumer_state& c = consumers.at(e.consumers[(e.next_consumer + i) % n]);
    if (c.has_credit() && c.filter) meter.charge(site_of(e), work_kind::selector_evaluation);
    if (!c.has_credit() || (c.filter && !c.filter->matches(view))) continue;
    e.next_consumer = (e.next_consumer + i + 1) % n;
    return &c;
  }
  return nullptr;
}

void broker::state::dispatch(endpoint& e, instant now) {
  const auto has_credit = [&] {
    return std::ranges::any_of(e.consumers, [&](consumer_id id) { return consumers.at(id).has_credit(); });
  };
  for (auto& lane : e.waiting.lanes) {
    for (std::size_t i = 0; i < lane.size() && has_credit();) {
      if (expire_if_due(e, lane[i], now)) {
        lane.erase(lane.begin() + static_cast<std::ptrdiff_t>(i));
        --e.waiting.size;
        continue;
      }
      consumer_state* c = lane[i].available_ns <= now.ns ? pick(e, *lane[i].msg) : nullptr;
      if (c == nullptr) {
        ++i;
        continue;
      }
      pending p = std::move(lane[i]);
      lane.erase(lane.begin() + static_cast<std::ptrdiff_t>(i));
      --e.waiting.size;
      deliver(*c, std::move(p));
    }
  }
}

void broker::state::deliver(consumer_state& c, pending p) {
  session_state& s = sessions.at(c.session);
  const std::uint64_t id = s.next_delivery_id++;
  ++c.outstanding;
  if (c.prefetch == 0) --c.pull_credit;
  ++c.at->stats->dispatched;
  meter.charge(site_of(*c.at), work_kind::deliver);
  meter.charge(site_of(*c.at), work_kind::bytes, static_cast<std::uint32_t>(p.msg->size));
  if (p.redeliveries > 0) ++c.at->stats->redelivered;
  out.push_back(delivery{c.id, s.id, id, p.msg, p.redeliveries > 0, p.redeliveries + 1});
  s.delivered.push_back(unacked{id, c.id, c.at->key, std::move(p)});
}

unacked broker::state::take_delivery(session_state& s, std::size_t index) {
  unacked u = std::move(s.delivered[index]);
  s.delivered.erase(s.delivered.begin() + static_cast<std::ptrdiff_t>(index));
  if (auto c = consumers.find(u.consumer); c != consumers.end()) --c->second.outstanding;
  return u;
}

void broker::state::settle_one(session_state& s, std::size_t index, settlement how, instant now) {
  const unacked u = take_delivery(s, index);
  if (how != settlement::acknowledged) return redeliver(u, how, now);
  if (auto e = endpoints.find(u.endpoint_key); e != endpoints.end()) {
    ++e->second->stats->acknowledged;
    meter.charge(site_of(*e->second), work_kind::ack);
  }
}

void broker::state::settle_id(session_state& s, std::uint64_t delivery_id, settlement how, instant now) {
  const auto it = std::ranges::find(s.delivered, delivery_id, &unacked::delivery_id);
  if (it == s.delivered.end()) return;
  const std::string key = it->endpoint_key;
  settle_one(s, static_cast<std::size_t>(it - s.delivered.begin()), how, now);
  if (auto e = endpoints.find(key); e != endpoints.end()) dispatch(*e->second, now);
}

void broker::state::redeliver(const unacked& u, settlement how, instant now) {
  auto e = endpoints.find(u.endpoint_key);
  if (e == endpoints.end()) return;  // a non-durable subscription that ended: nothing to return to
  pending p = u.p;
  ++p.redeliveries;
  const redelivery_policy& policy = config.redelivery;
  if (p.redeliveries > policy.maximum_redeliveries) {
    dead_letter(e->second->dest, p,
                fmt::format("Delivery[{}] exceeds redelivery policy limit:RedeliveryPolicy {{maximumRedeliveries = {}}}",
                            p.redeliveries, policy.maximum_redeliveries),
                now);
    return;
  }
  if (how == settlement::recovered) p.available_ns = now.ns + policy.delay_ms(p.redeliveries) * ns_per_ms;
  enqueue(*e->second, std::move(p), now, false);
}

void broker::state::dead_letter(const destination& from, const pending& p, std::string cause, instant now) {
  destination_stats& source = stats[from];
  const dead_letter_strategy& dls = config.dead_letter;
  if (!p.msg->persistent() && !dls.process_non_persistent) {
    ++source.dropped;
    return;
  }
  ++source.dead_lettered;
  auto copy = std::make_shared<message>(*p.msg);
  copy->spec.properties["dlqDeliveryFailureCause"] = std::move(cause);
  copy->expiration_ms = 0;
  const std::string dlq =
      dls.individual ? fmt::format("ActiveMQ.DLQ.{}.{}", from.is_topic() ? "Topic" : "Queue", from.name) : shared_dlq;
  copy->dest = destination::queue(dlq);
  endpoint& q = queue_endpoint(dlq);
  ++q.stats->enqueued;
  enqueue(q, {std::move(copy)}, now);
}

bool broker::state::expire_if_due(endpoint& e, const pending& p, instant now) {
  if (!is_expired(*p.msg, now)) return false;
  ++e.stats->expired;
  // An expired message in a DLQ is not dead-lettered again.
  if (config.dead_letter.process_expired && !(e.dest.name.starts_with(shared_dlq))) {
    dead_letter(e.dest, p, "expired", now);
  }
  return true;
}

void broker::state::sweep(endpoint& e, instant now) {
  for (auto& lane : e.waiting.lanes) {
    for (std::size_t i = 0; i < lane.size();) {
      if (expire_if_due(e, lane[i], now)) {
        lane.erase(lane.begin() + static_cast<std::ptrdiff_t>(i));
        --e.waiting.size;
      } else {
        ++i;
      }
    }
  }
  dispatch(e, now);
}

// --- the public settling calls ----------------------------------------------------------

result<void> broker::poison(session_id session, std::uint64_t delivery_id, std::string_view cause, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Session is closed"));
  session_state& s = sit->second;
  const auto it = std::ranges::find(s.delivered, delivery_id, &unacked::delivery_id);
  if (it == s.delivered.end()) return {};
  const unacked u = s_->take_delivery(s, static_cast<std::size_t>(it - s.delivered.begin()));
  auto e = s_->endpoints.find(u.endpoint_key);
  s_->dead_letter(e != s_->endpoints.end() ? e->second->dest : u.p.msg->dest, u.p, std::string(cause), now);
  if (e != s_->endpoints.end()) s_->dispatch(*e->second, now);
  return {};
}

std::vector<message_ptr> broker::browse(std::string_view queue, instant now) const {
  std::vector<message_ptr> seen;
  auto it = s_->endpoints.find(queue_key(queue));
  if (it == s_->endpoints.end()) return seen;
  for (const auto& lane : it->second->waiting.lanes) {
    for (const pending& p : lane) {
      if (!is_expired(*p.msg, now)) seen.push_back(p.msg);
    }
  }
  return seen;
}

void broker::set_prioritized_messages(destination_kind kind, std::string_view name, bool prioritized) {
  const destination d{kind, std::string(name)};
  s_->prioritized[d] = prioritized;
  for (auto& [key, e] : s_->endpoints) {
    if (e->dest == d) e->waiting.prioritized = prioritized;
  }
}

result<void> broker::pull(consumer_id consumer, instant now) {
  auto it = s_->consumers.find(consumer);
  if (it == s_->consumers.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Consumer is closed"));
  if (it->second.prefetch != 0) return {};  // a prefetching consumer is pushed to anyway
  it->second.pull_credit = 1;
  s_->dispatch(*it->second.at, now);
  return {};
}

void broker::cancel_pull(consumer_id consumer) {
  if (auto it = s_->consumers.find(consumer); it != s_->consumers.end()) it->second.pull_credit = 0;
}

result<void> broker::acknowledge(session_id session, std::uint64_t delivery_id, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Session is closed"));
  session_state& s = sit->second;
  auto it = std::ranges::find(s.delivered, delivery_id, &unacked::delivery_id);
  if (it == s.delivered.end()) return {};  // already settled: acknowledging twice is harmless in JMS
  switch (s.mode) {
    case ack_mode::session_transacted:
      s.settled.push_back(delivery_id);
      return {};
    case ack_mode::client_acknowledge:
      // Message.acknowledge() settles every message the session delivered up to this one.
      s_->settle_where(s, [&](const unacked& u) { return u.delivery_id <= delivery_id; }, settlement::acknowledged, now);
      return {};
    case ack_mode::dups_ok_acknowledge: {
      // Lazy batches of half the consumer's prefetch: until a batch goes, a failure redelivers.
      s.lazy.push_back(delivery_id);
      const auto c = s_->consumers.find(it->consumer);
      const std::size_t batch = c == s_->consumers.end() ? 1 : std::max<std::size_t>(1, c->second.prefetch / 2);
      if (s.lazy.size() < batch) return {};
      const auto lazy = std::exchange(s.lazy, {});
      s_->settle_where(s, [&](const unacked& u) { return std::ranges::find(lazy, u.delivery_id) != lazy.end(); }, settlement::acknowledged, now);
      return {};
    }
    default:
      s_->settle_id(s, delivery_id, settlement::acknowledged, now);
      return {};
  }
}

result<void> broker::commit(session_id session, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end() || sit->second.mode != ack_mode::session_transacted) {
    return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: Not a transacted session"));
  }
  session_state& s = sit->second;
  for (auto& [dest, msg] : std::exchange(s.held_sends, {})) s_->publish(dest, msg, s.conn, now);
  const auto settled = std::exchange(s.settled, {});
  s_->settle_where(s, [&](const unacked& u) { return std::ranges::find(settled, u.delivery_id) != settled.end(); }, settlement::acknowledged, now);
  return {};
}

result<void> broker::rollback(session_id session, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end() || sit->second.mode != ack_mode::session_transacted) {
    return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: Not a transacted session"));
  }
  sit->second.held_sends.clear();
  sit->second.settled.clear();
  return recover(session, now);
}

result<void> broker::redeliver(session_id session, std::uint64_t delivery_id, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Session is closed"));
  s_->settle_id(sit->second, delivery_id, settlement::recovered, now);
  return {};
}

result<void> broker::recover(session_id session, instant now) {
  auto sit = s_->sessions.find(session);
  if (sit == s_->sessions.end()) return std::unexpected(fail(error_code::illegal_state, "IllegalStateException: The Session is closed"));
  session_state& s = sit->second;
  s.lazy.clear();
  s_->settle_where(s, [](const unacked&) { return true; }, settlement::recovered, now);
  return {};
}

instant broker::next_deadline() const { return s_->deadlines.empty() ? instant::never() : instant{s_->deadlines.top().first}; }

void broker::advance(instant now) {
  std::set<std::string> due;
  while (!s_->deadlines.empty() && s_->deadlines.top().first <= now.ns) {
    due.insert(s_->deadlines.top().second);
    s_->deadlines.pop();
  }
  for (const std::string& key : due) {
    if (auto it = s_->endpoints.find(key); it != s_->endpoints.end()) s_->sweep(*it->second, now);
  }
}

}  // namespace mqlab::broker::jms
