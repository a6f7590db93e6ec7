// Vhosts, connections, channels, and the declare/bind/delete methods of the exchange and
// queue classes, with RabbitMQ's checks and error texts.
#include <algorithm>

#include <fmt/format.h>

#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {
error inequivalent(method_ref m, std::string_view what, std::string_view arg, std::string_view received,
                   std::string_view current) {
  return make_error(reply_code::precondition_failed, m,
                    fmt::format("inequivalent arg '{}' for {}: received '{}' but current is '{}'", arg, what, received,
                                current));
}

const char* yes_no(bool b) { return b ? "true" : "false"; }

error make_error(reply_code code, method_ref method, std::string detail) {
  return error{code, fmt::format("{} - {}", reply_name(code), detail), method};
}

std::string describe_queue(std::string_view vhost, std::string_view name) {
  return fmt::format("queue '{}' in vhost '{}'", name, vhost);
}

std::string describe_exchange(std::string_view vhost, std::string_view name) {
  return fmt::format("exchange '{}' in vhost '{}'", name, vhost);
}

// --- lookups ------------------------------------------------------------------------------

result<connection_state*> broker::state::connection(connection_id conn, method_ref m) {
  auto it = connections.find(conn);
  if (it == connections.end()) return std::unexpected(make_error(reply_code::channel_error, m, "connection closed"));
  return &it->second;
}

result<channel_state*> broker::state::channel(channel_ref c, method_ref m) {
  auto conn = connection(c.conn, m);
  if (!conn) return std::unexpected(conn.error());
  auto it = (*conn)->channels.find(c.ch);
  if (it == (*conn)->channels.end()) {
    return std::unexpected(make_error(reply_code::channel_error, m, fmt::format("expected 'channel.open' on channel {}", c.ch)));
  }
  return &it->second;
}

queue_state* broker::state::find_queue(std::string_view vhost, std::string_view name) {
  auto v = vhosts.find(std::string(vhost));
  if (v == vhosts.end()) return nullptr;
  auto q = v->second.queues.find(std::string(name));
  return q == v->second.queues.end() ? nullptr : queues.at(q->second).get();
}

exchange_state* broker::state::find_exchange(std::string_view vhost, std::string_view name) {
  auto v = vhosts.find(std::string(vhost));
  if (v == vhosts.end()) return nullptr;
  auto e = v->second.exchanges.find(std::string(name));
  return e == v->second.exchanges.end() ? nullptr : exchanges.at(e->second).get();
}

result<queue_state*> broker::state::usable_queue(channel_ref c, std::string_view vhost, std::string_view name,
                                                 method_ref m) {
  queue_state* q = find_queue(vhost, name);
  if (q == nullptr) return std::unexpected(make_error(reply_code::not_found, m, "no " + describe_queue(vhost, name)));
  if (!q->available || !reachable(connections.at(c.conn).node, q->owner)) {
    return std::unexpected(make_error(reply_code::not_found, m,
                                      fmt::format("home node 'rabbit@node-{}' of durable {} is down or inaccessible",
                                                  q->owner.value, describe_queue(vhost, name))));
  }
  if (q->exclusive && q->exclusive_owner != c.conn) {
    return std::unexpected(make_error(
        reply_code::resource_locked, m,
        fmt::format("cannot obtain exclusive access to locked {}. It could be originally declared on another "
                    "connection or the exclusive property value does not match that of the original declaration.",
                    describe_queue(vhost, name))));
  }
  return q;
}

error broker::state::fail(channel_ref c, error e, instant now) {
  if (e.connection_level()) {
    close_connection(c.conn, now);
  } else if (auto conn = connections.find(c.conn); conn != connections.end()) {
    if (auto ch = conn->second.channels.find(c.ch); ch != conn->second.channels.end()) {
      close_channel(conn->second, ch->second, now);
    }
  }
  return e;
}

// --- lifecycle ----------------------------------------------------------------------------

broker::broker(cluster_config cluster) : s_(std::make_unique<state>()) {
  s_->cluster = cluster;
  s_->node_up.assign(std::max<std::uint32_t>(cluster.nodes, 1), true);
  add_vhost("/");
}

broker::~broker() = default;

const std::vector<event>& broker::events() const { return s_->events; }
void broker::clear_events() { s_->events.clear(); }
std::vector<event> broker::take_events() {
  std::vector<event> out;
  out.swap(s_->events);
  return out;
}
void broker::take_events_into(std::vector<event>& out) {
  out.clear();
  out.swap(s_->events);
}
const cluster_traffic& broker::traffic() const { return s_->traffic; }
work_meter& broker::meter() { return s_->meter; }

std::uint32_t broker::state::declare_exchange(std::string_view vhost, std::string name, exchange_type type,
                                              bool durable, bool auto_delete, bool internal, field_table args) {
  const std::uint32_t id = next_exchange_id++;
  ++metadata_version;
  vhosts[std::string(vhost)].exchanges[name] = id;
  exchanges.emplace(id, std::make_unique<exchange_state>(exchange_state{
                            id, std::string(vhost),
                            exchange(std::move(name), type, durable, auto_delete, internal, std::move(args))}));
  return id;
}

void broker::add_vhost(std::string name) {
  if (s_->vhosts.contains(name)) return;
  s_->vhosts[name];
  // The default exchange and the amq.* exchanges every vhost has (AMQP 0-9-1 §3.1.3.1).
  s_->declare_exchange(name, "", exchange_type::direct, true, false, false, {});
  s_->declare_exchange(name, "amq.direct", exchange_type::direct, true, false, false, {});
  s_->declare_exchange(name, "amq.fanout", exchange_type::fanout, true, false, false, {});
  s_->declare_exchange(name, "amq.topic", exchange_type::topic, true, false, false, {});
  s_->declare_exchange(name, "amq.headers", exchange_type::headers, true, false, false, {});
  s_->declare_exchange(name, "amq.match", exchange_type::headers, true, false, false, {});
}

result<connection_id> broker::open_connection(std::string_view vhost, instant, node_id node) {
  if (!s_->vhosts.contains(std::string(vhost))) {
    return std::unexpected(make_error(reply_code::not_allowed, {10, 40}, fmt::format("vhost {} not found", vhost)));
  }
  if (!node_up(node)) {
    return std::unexpected(make_error(reply_code::connection_forced, {10, 40}, fmt::format("node {} is down", node.value)));
  }
  const connection_id id = s_->next_connection_id++;
  s_->connections.emplace(id, connection_state{std::string(vhost), node, {}});
  return id;
}

void broker::close_connection(connection_id conn, instant now) { s_->close_connection(conn, now); }

void broker::state::close_connection(connection_id id, instant now) {
  auto it = connections.find(id);
  if (it == connections.end()) return;
  auto& conn = it->second;
  while (!conn.channels.empty()) close_channel(conn, conn.channels.begin()->second, now);
  const std::string vhost = conn.vhost;
  connections.erase(it);
  // Exclusive queues belong to their connection and go with it.
  std::vector<queue_state*> owned;
  for (auto& [qid, q] : queues) {
    if (q->exclusive && q->exclusive_owner == id) owned.push_back(q.get());
  }
  for (queue_state* q : owned) delete_queue(*q, false, now);
}

result<void> broker::channel_open(channel_ref c) {
  auto conn = s_->connection(c.conn, methods::channel_open);
  if (!conn) return std::unexpected(conn.error());
  if (c.ch == 0 || (*conn)->channels.contains(c.ch)) {
    return std::unexpected(s_->fail(
        c, make_error(reply_code::channel_error, methods::channel_open, fmt::format("second 'channel.open' seen on channel {}", c.ch)),
        {}));
  }
  auto& ch = (*conn)->channels[c.ch];
  ch.ref = c;
  ch.node = (*conn)->node;
  return {};
}

void broker::channel_close(channel_ref c, instant now) {
  auto conn = s_->connections.find(c.conn);
  if (conn == s_->connections.end()) return;
  auto ch = conn->second.channels.find(c.ch);
  if (ch != conn->second.channels.end()) s_->close_channel(conn->second, ch->second, now);
}

void broker::state::requeue_unacked(channel_state& ch, instant now) {
  std::vector<queue_state*> touched;
  while (!ch.unacked.empty()) {
    unacked_delivery d = std::move(ch.unacked.front());
    ch.unacked.pop_front();
    if (d.by) --d.by->unacked;
    if (d.orphaned) continue;
    auto q = queues.find(d.queue);
    if (q == queues.end()) continue;  // the queue was deleted meanwhile
    --q->second->unacked;
    q->second->ready.requeue(std::move(d.m));
    touched.push_back(q->second.get());
  }
  ch.consumer_unacked = 0;
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (queue_state* q : touched) dispatch(*q, now);
}

void broker::state::close_channel(connection_state& conn, channel_state& ch, instant now) {
  // Cancel first so requeued messages go to other consumers, not back to this channel.
  std::vector<consumer*> active;
  for (auto& [tag, c] : ch.active) active.push_back(c);
  for (consumer* c : active) cancel_consumer(*c, false, now);
  requeue_unacked(ch, now);
  conn.channels.erase(ch.ref.ch);
}

void broker::state::cancel_consumer(consumer& c, bool notify, instant now) {
  if (!c.active) return;
  c.active = false;
  c.channel->active.erase(*c.tag);
  if (notify) events.push_back(consumer_cancelled{c.channel->ref, *c.tag});
  auto qit = queues.find(c.queue);
  if (qit == queues.end()) return;
  queue_state& q = *qit->second;
  auto pos = std::find(q.consumers.begin(), q.consumers.end(), &c);
  if (pos != q.consumers.end()) {
    const auto index = static_cast<std::size_t>(pos - q.consumers.begin());
    q.consumers.erase(pos);
    if (q.next_consumer > index) --q.next_consumer;
    if (q.next_consumer >= q.consumers.size()) q.next_consumer = 0;
  }
  // An auto-delete queue goes when its last consumer does (only once it has had one).
  if (q.auto_delete && q.had_consumer && q.consumers.empty()) delete_queue(q, false, now);
}

void broker::state::delete_queue(queue_state& q, bool notify_consumers, instant now) {
  const std::uint32_t id = q.id;
  ++metadata_version;
  if (journaling && q.durable) journal.push_back({journal_entry::kind::queue_removed, q.vhost, q.name, 0, nullptr});
  std::vector<consumer*> consumers = q.consumers;
  for (consumer* c : consumers) cancel_consumer(*c, notify_consumers, now);
  // Unacked deliveries of the queue become orphans: settling them later does nothing.
  for_each_unacked(id, [](unacked_delivery& d) { d.orphaned = true; });
  std::vector<exchange_state*> emptied;
  for (auto& [eid, e] : exchanges) {
    if (e->vhost != q.vhost) continue;
    const std::size_t before = e->ex.bindings().size();
    e->ex.unbind_all(destination{id, false});
    if (before > 0 && e->ex.bindings().empty() && e->ex.auto_delete()) emptied.push_back(e.get());
  }
  for (exchange_state* e : emptied) delete_exchange(*e);
  if (cluster.self && q.owner == *cluster.self) announce_removed(q);
  retired += q.stats;
  vhosts[q.vhost].queues.erase(q.name);
  queues.erase(id);
}

void broker::state::delete_exchange(exchange_state& e) {
  const std::uint32_t id = e.id;
  ++metadata_version;
  for (auto& [eid, other] : exchanges) other->ex.unbind_all(destination{id, true});
  vhosts[e.vhost].exchanges.erase(e.ex.name());
  exchanges.erase(id);
}

// --- exchange class ------------------------------------------------------------------------

result<void> broker::exchange_declare(channel_ref c, const exchange_declare_args& a) {
  constexpr auto m = methods::exchange_declare;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), {}));
  const std::string& vhost = s_->connections.at(c.conn).vhost;
  exchange_type type{};
  if (!a.passive && !parse_exchange_type(a.type, type)) {
    return std::unexpected(s_->fail(c, make_error(reply_code::command_invalid, m, fmt::format("unknown exchange type '{}'", a.type)), {}));
  }
  exchange_state* existing = s_->find_exchange(vhost, a.name);
  if (a.passive) {
    if (existing == nullptr) {
      return std::unexpected(s_->fail(c, make_error(reply_code::not_found, m, "no " + describe_exchange(vhost, a.name)), {}));
    }
    return {};
  }
  if (a.name.starts_with("amq.") || a.name.empty()) {
    if (existing != nullptr && existing->ex.type() == type) return {};  // redeclaring a standard exchange is fine
    return std::unexpected(s_->fail(
        c, make_error(reply_code::access_refused, m,
                      fmt::format("exchange name '{}' contains reserved prefix 'amq.*'", a.name)), {}));
  }
  if (existing != nullptr) {
    const exchange& e = existing->ex;
    const std::string what = describe_exchange(vhost, a.name);
    if (e.type() != type) {
      return std::unexpected(s_->fail(c, inequivalent(m, what, "type", a.type, to_string(e.type())), {}));
    }
    if (e.durable() != a.durable) {
      return std::unexpected(s_->fail(c, inequivalent(m, what, "durable", yes_no(a.durable), yes_no(e.durable())), {}));
    }
    if (e.auto_delete() != a.auto_delete) {
      return std::unexpected(
          s_->fail(c, inequivalent(m, what, "auto_delete", yes_no(a.auto_delete), yes_no(e.auto_delete())), {}));
    }
    return {};
  }
  s_->declare_exchange(vhost, a.name, type, a.durable, a.auto_delete, a.internal, a.arguments);
  return {};
}

result<void> broker::exchange_delete(channel_ref c, std::string_view name, bool if_unused) {
  constexpr auto m = methods::exchange_delete;
  auto ch = s_->channel(c, m);
  if (!ch) return std::unexpected(s_->fail(c, ch.error(), {}));
  const std::string& vhost = s_->connections.at(c.conn).vhost;
  if (name.empty() || name.starts_with("amq.")) {
    return std::unexpected(s_->fail(
        c, make_error(reply_code::access_refused, m, "operation not permitted on the default exchange or amq.* exchanges"),
        {}));
  }
  exchange_state* e = s_->find_exchange(vhost, name);
  if (e == nullptr) return {};  // RabbitMQ 3.x: deleting a missing exchange succeeds
  if (if_unused && !e->ex.bindings().empty()) {
    return std::unexpected(s_->fail(c, make_error(reply_code::precondition_failed, m, describe_exchange(vhost, name) + " in use"), {}));
  }
  s_->delete_exchange(*e);
  return {};
}

}  // namespace mqlab::broker::amqp
