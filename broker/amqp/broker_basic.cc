// The basic, confirm and tx classes: publishing and routing, dispatch to consumers with
// prefetch, acknowledgements, requeue, TTL, length limits and dead-lettering.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {

queue_stats& queue_stats::operator+=(const queue_stats& o) {
  published += o.published;
  delivered += o.delivered;
  redelivered += o.redelivered;
  acked += o.acked;
  dead_lettered += o.dead_lettered;
  dropped += o.dropped;
  expired += o.expired;
  rejected_publishes += o.rejected_publishes;
  lost += o.lost;
  refused += o.refused;
  return *this;
}

namespace {

/// The per-message TTL of the expiration property, in ms; errors name the bad value.
std::expected<std::optional<std::int64_t>, std::string> parse_expiration(const basic_properties& p) {
  if (!p.expiration) return std::optional<std::int64_t>{};
  std::int64_t ms = 0;
  const std::string& text = *p.expiration;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size() || ms < 0) {
    return std::unexpected(fmt::format("invalid expiration '{}'", text));
  }
  return std::optional<std::int64_t>(ms);
}

bool has_credit(const consumer& c) {
  if (c.no_ack) return true;
  const channel_state& ch = *c.channel;
  return (c.prefetch == 0 || c.unacked < c.prefetch) &&
         (ch.channel_prefetch == 0 || ch.consumer_unacked < ch.channel_prefetch);
}

}  // namespace

// --- routing and queues ---------------------------------------------------------------------

namespace {

work_kind route_kind(exchange_type t) {
  switch (t) {
    case exchange_type::direct: return work_kind::route_direct;
    case exchange_type::fanout: return work_kind::route_fanout;
    case exchange_type::topic: return work_kind::route_topic;
    case exchange_type::headers: return work_kind::route_headers;
  }
  return work_kind::route_direct;
}

/// What routing through `e` examined: a direct or topic exchange looks its index up (one step
/// per match found), fanout and headers walk every binding (RabbitMQ's headers exchange scans).
std::uint32_t bindings_examined(const exchange& e, std::size_t matched) {
  const bool scans = e.type() == exchange_type::fanout || e.type() == exchange_type::headers;
  return static_cast<std::uint32_t>(scans ? e.bindings().size() : matched + 1);
}

}  // namespace

void broker::state::route(std::uint32_t exchange_id, std::string_view routing_key, const field_table& headers,
                          work_site site) {
  // Depth-first through exchange-to-exchange bindings; every exchange is visited once and
  // every queue receives the message once however many paths lead to it.
  routed_queues.clear();
  exchange_stack.clear();
  std::vector<std::uint32_t>& visited = exchange_stack;
  std::size_t next = 0;
  visited.push_back(exchange_id);
  while (next < visited.size()) {
    const exchange_state& e = *exchanges.at(visited[next++]);
    route_scratch.clear();
    e.ex.route(routing_key, headers, route_scratch);
    meter.charge(site, route_kind(e.ex.type()));
    meter.charge(site, work_kind::binding_examined, bindings_examined(e.ex, route_scratch.size()));
    for (const destination& d : route_scratch) {
      auto& list = d.is_exchange ? visited : routed_queues;
      if (std::find(list.begin(), list.end(), d.id) == list.end()) list.push_back(d.id);
    }
  }
}

void broker::state::route_from(const exchange_state& ex, std::string_view routing_key, const field_table& headers,
                               work_site site) {
  if (ex.ex.name().empty()) {
    // The default exchange binds every queue by its name implicitly (AMQP 0-9-1 §3.1.3.1).
    routed_queues.clear();
    if (queue_state* q = find_queue(ex.vhost, routing_key)) routed_queues.push_back(q->id);
    meter.charge(site, work_kind::route_direct);
    meter.charge(site, work_kind::binding_examined);
    return;
  }
  route(ex.id, routing_key, headers, site);
}

instant broker::state::expiry_of(const queue_state& q, const message& msg, instant now) {
  instant expires = instant::never();
  if (q.message_ttl_ms) expires = now.plus_ms(*q.message_ttl_ms);
  if (auto ttl = parse_expiration(*msg.properties()); ttl && *ttl) expires = std::min(expires, now.plus_ms(**ttl));
  return expires;
}

bool broker::state::enqueue(queue_state& q, const message_ptr& msg, node_id from, instant now, bool confirmed) {
  if (!q.available || !reachable(from, q.owner)) {
    ++(confirmed ? q.stats.refused : q.stats.lost);
    return false;
  }
  if (!owns(q)) {
    forward(q, msg, from);
    return true;
  }
  const bool over_count = q.max_length && q.ready.size() >= *q.max_length;
  const bool over_bytes = q.max_length_bytes && q.ready.bytes() + msg->body_size() > *q.max_length_bytes;
  if ((over_count || over_bytes) && q.overflow != overflow_policy::drop_head) {
    ++q.stats.rejected_publishes;
    if (q.overflow == overflow_policy::reject_publish_dlx) {
      dead_letter(q, queued_message{msg, 0, instant::never(), 0}, "maxlen", now);
    }
    return false;
  }
  count_transfer({from, 0}, q.owner, *msg);
  count_mirroring(q, msg->body_size(), kept_on_disk(q, *msg));
  ++q.stats.published;
  charge_enqueue(q, *msg);
  queued_message joined{msg, q.next_sequence++, expiry_of(q, *msg, now), 0};
  tell_mirrors(q, joined, peer_message::kind::mirror_push);
  q.ready.push_back(std::move(joined));
  // drop-head: make room by discarding (or dead-lettering) from the head.
  while ((q.max_length && q.ready.size() > *q.max_length) ||
         (q.max_length_bytes && q.ready.bytes() > *q.max_length_bytes && q.ready.size() > 0)) {
    dead_letter(q, q.ready.pop_oldest_lowest(), "maxlen", now);
  }
  dispatch(q, now);
  // Still waiting once the queue has served what it could: behind others, or no consumer with
  // room (a priority message that overtook a backlog counts too).
  if (!q.ready.empty()) meter.charge(site_of(q), work_kind::stored);
  return true;
}

void broker::state::expire(queue_state& q, instant now, bool include_now) {
  queued_message m;
  const instant limit{include_now ? now.ns : now.ns - 1};
  while (q.ready.pop_expired(limit, m)) {
    ++q.stats.expired;
    dead_letter(q, std::move(m), "expired", now);
  }
}

void broker::state::dispatch(queue_state& q, instant now) {
  // Messages already past their expiry go first; one expiring exactly now is still handed to
  // a consumer that can take it at once (TTL 0 means "deliver immediately or drop").
  if (!owns(q)) return;  // a mirror's copy only follows its owner
  expire(q, now, false);
  if (q.available) {
    while (!q.ready.empty() && !q.consumers.empty()) {
      consumer* chosen = nullptr;
      // A single-active-consumer queue serves only its oldest consumer; the next one in line
      // takes over when it goes (RabbitMQ's rule), which keeps the queue's order.
      const std::size_t n = q.single_active_consumer ? 1 : q.consumers.size();
      for (std::size_t i = 0; i < n && chosen == nullptr; ++i) {
        consumer* c = q.consumers[(q.single_active_consumer ? 0 : q.next_consumer + i) % q.consumers.size()];
        if (has_credit(*c) && reachable(c->channel->node, q.owner)) {
          chosen = c;
          q.next_consumer = (q.next_consumer + i + 1) % n;  // round-robin continues after it
        }
      }
      if (chosen == nullptr) break;
      deliver(q, *chosen, q.ready.pop_front());
    }
  }
  expire(q, now, true);
}

void broker::state::deliver(queue_state& q, consumer& c, queued_message m) {
  channel_state& ch = *c.channel;
  const std::uint64_t tag = ch.next_tag++;
  const bool redelivered = m.deliveries > 0;
  ++m.deliveries;
  ++q.stats.delivered;
  if (redelivered) ++q.stats.redelivered;
  meter.charge(site_of(q), work_kind::deliver);
  meter.charge(site_of(q), work_kind::bytes, static_cast<std::uint32_t>(m.msg->body_size()));
  // The consumer's channel frames the basic.deliver: one channel serving many consumers (or
  // one consumer of a fanout's many queues) is a process every copy passes through.
  meter.charge(site_of(ch), work_kind::frame);
  count_transfer(site_of(q), ch.node, *m.msg);
  events.push_back(delivery{ch.ref, c.tag, tag, redelivered, m.msg});
  if (c.no_ack) {
    ++q.stats.acked;
    tell_mirrors(q, m, peer_message::kind::mirror_drop);
    return;
  }
  tell_mirrors(q, m, peer_message::kind::mirror_delivered);
  ++c.unacked;
  ++ch.consumer_unacked;
  ++q.unacked;
  ch.unacked.push_back(unacked_delivery{tag, q.id, std::move(m), &c, false});
}

void broker::state::dead_letter(queue_state& q, queued_message m, std::string_view reason, instant now) {
  if (m.sequence != 0) tell_mirrors(q, m, peer_message::kind::mirror_drop);  // 0: refused at the door, never in the queue
  exchange_state* dlx = q.dead_letter_exchange ? find_exchange(q.vhost, *q.dead_letter_exchange) : nullptr;
  if (dlx == nullptr) {
    ++q.stats.dropped;
    return;
  }
  const message& original = *m.msg;
  // x-death: one entry per (queue, reason), newest first, with a count (RabbitMQ 3.8+).
  auto props = std::make_shared<basic_properties>(*original.properties());
  field_array deaths;
  if (const field_value* old = find(props->headers, "x-death"); old && old->as_array()) deaths = *old->as_array();
  std::int64_t count = 1;
  bool rejected_before = reason == "rejected";
  for (auto it = deaths.begin(); it != deaths.end(); ++it) {
    const field_table* entry = it->as_table();
    if (entry == nullptr) continue;
    const field_value* r = find(*entry, "reason");
    const field_value* qn = find(*entry, "queue");
    if (r && r->as_string() && *r->as_string() == "rejected") rejected_before = true;
    if (r && qn && r->as_string() && qn->as_string() && *r->as_string() == reason && *qn->as_string() == q.name) {
      if (const field_value* cnt = find(*entry, "count"); cnt && cnt->as_integer()) count = *cnt->as_integer() + 1;
      it = deaths.erase(it);
      break;
    }
  }
  // A message that keeps cycling back to a queue it already died in, with no client ever
  // rejecting it, would loop forever: RabbitMQ drops it, and so do we.
  if (count > 1 && !rejected_before) {
    ++q.stats.dropped;
    return;
  }
  field_table entry{{"count", count},
                    {"reason", std::string(reason)},
                    {"queue", q.name},
                    {"time", timestamp{static_cast<std::uint64_t>(now.ns / 1'000'000'000)}},
                    {"exchange", std::string(original.exchange())},
                    {"routing-keys", field_array{std::string(original.routing_key())}}};
  if (props->expiration) entry.emplace_back("original-expiration", *props->expiration);
  deaths.insert(deaths.begin(), field_value(std::move(entry)));
  std::erase_if(props->headers, [](const auto& h) { return h.first == "x-death"; });
  props->headers.emplace_back("x-death", std::move(deaths));
  if (!find(props->headers, "x-first-death-reason")) {
    props->headers.emplace_back("x-first-death-reason", std::string(reason));
    props->headers.emplace_back("x-first-death-queue", q.name);
    props->headers.emplace_back("x-first-death-exchange", std::string(original.exchange()));
  }
  props->expiration.reset();  // so it does not expire again in the dead-letter queue
  auto dead = make_message(dlx->ex.name(), q.dead_letter_routing_key ? std::string_view(*q.dead_letter_routing_key) : original.routing_key(), original.body(),
                           std::move(props));
  ++q.stats.dead_lettered;
  route_from(*dlx, dead->routing_key(), dead->properties()->headers, site_of(q));
  const std::vector<std::uint32_t> targets = routed_queues;
  for (std::uint32_t id : targets) {
    if (auto it = queues.find(id); it != queues.end()) enqueue(*it->second, dead, q.owner, now, false);
  }
}

result<void> broker::state::publish(channel_ref c, message_ptr msg, bool mandatory, instant now) {
  constexpr auto m = methods::basic_publish;
  auto ch = channel(c, m);
  if (!ch) return std::unexpected(fail(c, ch.error(), now));
  channel_state& chan = **ch;
  if (chan.tx) {
    chan.pending.emplace_back(tx_publish{std::move(msg), mandatory});
    return {};
  }
  const std::string& vhost = connections.at(c.conn).vhost;
  if (auto ttl = parse_expiration(*msg->properties()); !ttl) {
    return std::unexpected(fail(c, make_error(reply_code::precondition_failed, m, ttl.error()), now));
  }
  exchange_state* ex = find_exchange(vhost, msg->exchange());
  if (ex == nullptr) {
    return std::unexpected(fail(c, make_error(reply_code::not_found, m, "no " + describe_exchange(vhost, msg->exchange())), now));
  }
  if (ex->ex.internal()) {
    return std::unexpected(fail(c, make_error(reply_code::access_refused, m,
                                              fmt::format("cannot publish to internal {}", describe_exchange(vhost, msg->exchange()))),
                                now));
  }
  const std::uint64_t sequence = chan.confirm ? ++chan.publish_sequence : 0;
  meter.charge(site_of(chan), work_kind::frame);
  if (chan.confirm) meter.charge(site_of(chan), work_kind::confirm);
  meter.charge(site_of(chan), work_kind::bytes, static_cast<std::uint32_t>(msg->body_size()));
  route_from(*ex, msg->routing_key(), msg->properties()->headers, site_of(chan));
  bool all_accepted = true;
  const std::vector<std::uint32_t> targets = routed_queues;  // enqueue may route again (dead-lettering)
  if (cluster.self) publishing = {*cluster.self, c, sequence};
  for (std::uint32_t id : targets) all_accepted = enqueue(*queues.at(id), msg, chan.node, now, chan.confirm) && all_accepted;
  if (targets.empty() && mandatory) {
    events.push_back(returned{c, reply_code::no_route, "NO_ROUTE", msg});
  }
  // Copies on other nodes (forwarded, mirrored) are confirmed once those nodes have them.
  auto wait = waits.empty() ? waits.end() : waits.find(publishing);
  if (wait != waits.end()) wait->second.accepted = wait->second.accepted && all_accepted;
  else if (chan.confirm) events.push_back(confirm{c, sequence, false, all_accepted});
  if (cluster.self) publishing = {};
  return {};
}

// --- settling deliveries --------------------------------------------------------------------

void broker::state::settle(channel_state& ch, unacked_delivery& d, bool ack, bool requeue, instant now) {
  if (d.by) {
    --d.by->unacked;
    --ch.consumer_unacked;
  }
  if (d.orphaned) return;
  auto it = queues.find(d.queue);
  if (it == queues.end()) return;
  queue_state& q = *it->second;
  --q.unacked;
  meter.charge(site_of(q), work_kind::ack);
  count_mirroring(q, 0);  // acks and rejects are replicated to mirrors too
  if (ack) {
    ++q.stats.acked;
    tell_mirrors(q, d.m, peer_message::kind::mirror_drop);
    // ha-sync-mode manual: a mirror that joined late is in sync once the queue has drained.
    if (q.ready.empty() && q.unacked == 0 && !q.unsynced_mirrors.empty()) {
      q.mirrors.insert(q.mirrors.end(), q.unsynced_mirrors.begin(), q.unsynced_mirrors.end());
      q.unsynced_mirrors.clear();
    }
  } else if (requeue) {
    q.ready.requeue(std::move(d.m));
  } else {
    dead_letter(q, std::move(d.m), "rejected", now);
  }
  dispatch(q, now);
}

result<void> broker::state::settle_tags(channel_ref c, std::uint64_t tag, bool multiple, bool ack, bool requeue,
                                        method_ref m, instant now) {
  auto ch = channel(c, m);
  if (!ch) return std::unexpected(fail(c, ch.error(), now));
  channel_state& chan = **ch;
  meter.charge(site_of(chan), work_kind::frame);
  if (chan.tx) {
    chan.pending.emplace_back(tx_settle{tag, multiple, ack, requeue});
    return {};
  }
  auto& list = chan.unacked;
  const auto last = std::lower_bound(list.begin(), list.end(), tag,
                                     [](const unacked_delivery& d, std::uint64_t t) { return d.tag < t; });
  const bool found = last != list.end() && last->tag == tag;
  if (multiple && tag == 0) {
    // Tag 0 with multiple settles everything outstanding (AMQP 0-9-1 §1.8.3.13).
    std::deque<unacked_delivery> all;
    all.swap(list);
    for (auto& d : all) settle(chan, d, ack, requeue, now);
    return {};
  }
  if (!found) {
    return std::unexpected(fail(c, make_error(reply_code::precondition_failed, m, fmt::format("unknown delivery tag {}", tag)), now));
  }
  if (!multiple) {
    unacked_delivery d = std::move(*last);
    list.erase(last);
    settle(chan, d, ack, requeue, now);
    return {};
  }
  std::deque<unacked_delivery> prefix(std::make_move_iterator(list.begin()), std::make_move_iterator(last + 1));
  list.erase(list.begin(), last + 1);
  for (auto& d : prefix) settle(chan, d, ack, requeue, now);
  return {};
}

// --- public methods -------------------------------------------------------------------------

result<void> broker::basic_qos(channel_ref c, std::uint16_t prefetch_count, bool global, instant now) {
  auto ch = s_->channel(c, methods::basic_qos);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  // RabbitMQ's reading of basic.qos: global=false limits each new consumer of the channel,
  // global=true limits the channel as a whole.
  (global ? (*ch)->channel_prefetch : (*ch)->consumer_prefetch) = prefetch_count;
  std::vector<queue_state*> queues;
  for (auto& [tag, c2] : (*ch)->active) queues.push_back(s_->queues.at(c2->queue).get());
  for (queue_state* q : queues) s_->dispatch(*q, now);
  return {};
}

result<std::string> broker::basic_consume(channel_ref c, const consume_args& a, instant now) {
  constexpr auto m = methods::basic_consume;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  channel_state& chan = **ch;
  auto q = s_->usable_queue(c, s_->connections.at(c.conn).vhost, a.queue, m);
  if (!q) return std::unexpected(s_->fail(c, q.error(), now));
  queue_state& queue = **q;
  std::string tag = a.consumer_tag.empty() ? fmt::format("amq.ctag-{:016x}", ++s_->generated_names) : a.consumer_tag;
  if (chan.active.contains(tag)) {
    return std::unexpected(s_->fail(c, make_error(reply_code::not_allowed, m, fmt::format("attempt to reuse consumer tag '{}'", tag)), now));
  }
  const bool someone_exclusive =
      std::any_of(queue.consumers.begin(), queue.consumers.end(), [](const consumer* k) { return k->exclusive; });
  if (someone_exclusive || (a.exclusive && !queue.consumers.empty())) {
    return std::unexpected(s_->fail(
        c, make_error(reply_code::access_refused, m,
                      fmt::format("{} in exclusive use", describe_queue(queue.vhost, queue.name))), now));
  }
  auto owned = std::make_unique<consumer>();
  consumer& k = *owned;
  k.tag = std::make_shared<const std::string>(tag);
  k.channel = &chan;
  k.queue = queue.id;
  k.no_ack = a.no_ack;
  k.exclusive = a.exclusive;
  k.prefetch = chan.consumer_prefetch;
  chan.all_consumers.push_back(std::move(owned));
  chan.active.emplace(tag, &k);
  queue.consumers.push_back(&k);
  queue.had_consumer = true;
  s_->dispatch(queue, now);
  return tag;
}

result<void> broker::basic_cancel(channel_ref c, std::string_view consumer_tag, instant now) {
  auto ch = s_->channel(c, methods::basic_cancel);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  auto it = (*ch)->active.find(consumer_tag);
  if (it != (*ch)->active.end()) s_->cancel_consumer(*it->second, false, now);  // unknown tags are ignored
  return {};
}

result<void> broker::basic_publish(channel_ref c, std::string_view exchange, std::string_view routing_key,
                                   bool mandatory, std::shared_ptr<const basic_properties> properties, std::string body,
                                   instant now) {
  return s_->publish(c, make_message(std::string(exchange), std::string(routing_key), std::move(body), std::move(properties)),
                     mandatory, now);
}

result<void> broker::basic_publish(channel_ref c, message_ptr msg, bool mandatory, instant now) {
  return s_->publish(c, std::move(msg), mandatory, now);
}

result<std::optional<get_ok>> broker::basic_get(channel_ref c, std::string_view queue, bool no_ack, instant now) {
  constexpr auto m = methods::basic_get;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  auto q = s_->usable_queue(c, s_->connections.at(c.conn).vhost, queue, m);
  if (!q) return std::unexpected(s_->fail(c, q.error(), now));
  queue_state& target = **q;
  s_->expire(target, now, true);
  if (target.ready.empty()) return std::optional<get_ok>{};
  queued_message msg = target.ready.pop_front();
  channel_state& chan = **ch;
  get_ok ok{chan.next_tag++, msg.deliveries > 0, static_cast<std::uint32_t>(target.ready.size()), msg.msg};
  ++msg.deliveries;
  ++target.stats.delivered;
  if (ok.redelivered) ++target.stats.redelivered;
  s_->count_transfer(state::site_of(target), chan.node, *msg.msg);
  // Mirrors and the journal hear of it as of a delivery to a consumer.
  if (no_ack) {
    ++target.stats.acked;
    s_->tell_mirrors(target, msg, peer_message::kind::mirror_drop);
  } else {
    s_->tell_mirrors(target, msg, peer_message::kind::mirror_delivered);
    ++target.unacked;
    chan.unacked.push_back(unacked_delivery{ok.delivery_tag, target.id, std::move(msg), nullptr, false});
  }
  return std::optional<get_ok>(std::move(ok));
}

result<void> broker::basic_ack(channel_ref c, std::uint64_t delivery_tag, bool multiple, instant now) {
  return s_->settle_tags(c, delivery_tag, multiple, true, false, methods::basic_ack, now);
}

result<void> broker::basic_nack(channel_ref c, std::uint64_t delivery_tag, bool multiple, bool requeue, instant now) {
  return s_->settle_tags(c, delivery_tag, multiple, false, requeue, methods::basic_nack, now);
}

result<void> broker::basic_reject(channel_ref c, std::uint64_t delivery_tag, bool requeue, instant now) {
  return s_->settle_tags(c, delivery_tag, false, false, requeue, methods::basic_reject, now);
}

result<void> broker::basic_recover(channel_ref c, bool requeue, instant now) {
  constexpr auto m = methods::basic_recover;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  if (!requeue) {
    return std::unexpected(s_->fail(c, make_error(reply_code::not_implemented, m, "requeue=false"), now));
  }
  s_->requeue_unacked(**ch, now);
  return {};
}

result<void> broker::state::select_mode(channel_ref c, method_ref m, bool channel_state::*mode,
                                        bool channel_state::*excluded, const char* refusal) {
  auto ch = channel(c, m);
  if (!ch) return std::unexpected(fail(c, ch.error(), {}));
  // A channel is in confirm mode or transactional, never both (RabbitMQ refuses the switch).
  if ((**ch).*excluded) return std::unexpected(fail(c, make_error(reply_code::precondition_failed, m, refusal), {}));
  (**ch).*mode = true;
  return {};
}

result<void> broker::confirm_select(channel_ref c) {
  return s_->select_mode(c, methods::confirm_select, &channel_state::confirm, &channel_state::tx,
                         "cannot switch from tx to confirm mode");
}

result<void> broker::tx_select(channel_ref c) {
  return s_->select_mode(c, methods::tx_select, &channel_state::tx, &channel_state::confirm,
                         "cannot switch from confirm to tx mode");
}

result<void> broker::tx_commit(channel_ref c, instant now) {
  constexpr auto m = methods::tx_commit;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), now));
  channel_state& chan = **ch;
  if (!chan.tx) return std::unexpected(s_->fail(c, make_error(reply_code::precondition_failed, m, "channel is not transactional"), now));
  auto pending = std::move(chan.pending);
  chan.pending.clear();
  chan.tx = false;  // apply the buffered work as ordinary calls
  result<void> outcome;
  for (auto& op : pending) {
    if (auto* p = std::get_if<tx_publish>(&op)) {
      outcome = s_->publish(c, std::move(p->msg), p->mandatory, now);
    } else {
      const auto& s = std::get<tx_settle>(op);
      outcome = s_->settle_tags(c, s.tag, s.multiple, s.ack, s.requeue, s.ack ? methods::basic_ack : methods::basic_nack, now);
    }
    if (!outcome) return outcome;  // the channel is closed by now
  }
  chan.tx = true;
  return {};
}

result<void> broker::tx_rollback(channel_ref c) {
  constexpr auto m = methods::tx_rollback;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), {}));
  if (!(*ch)->tx) return std::unexpected(s_->fail(c, make_error(reply_code::precondition_failed, m, "channel is not transactional"), {}));
  (*ch)->pending.clear();
  return {};
}

// --- time -----------------------------------------------------------------------------------

instant broker::next_deadline() const {
  instant earliest = instant::never();
  for (const auto& [id, q] : s_->queues) {
    if (s_->owns(*q)) earliest = std::min(earliest, q->ready.next_expiry());
  }
  return earliest;
}

void broker::advance(instant now) {
  std::vector<queue_state*> due;
  for (auto& [id, q] : s_->queues) {
    if (s_->owns(*q) && q->ready.next_expiry() <= now) due.push_back(q.get());
  }
  // Queue order, not hash order, so dead-lettered messages arrive in a reproducible order.
  std::sort(due.begin(), due.end(), [](const queue_state* a, const queue_state* b) { return a->id < b->id; });
  for (queue_state* q : due) s_->expire(*q, now, true);
}

}  // namespace mqlab::broker::amqp
