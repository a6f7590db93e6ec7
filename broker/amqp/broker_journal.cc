// What a server needs from the core to keep durable queues on disk: the journal of persistent
// messages, the durable definitions, and restoring messages after a restart.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "broker/amqp/broker.h"
#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {

void broker::keep_journal(bool on) { s_->journaling = on; }

void broker::take_journal_into(std::vector<journal_entry>& out) {
  out.clear();
  out.swap(s_->journal);
}

std::uint64_t broker::metadata_version() const { return s_->metadata_version; }

void broker::state::note_in_journal(const queue_state& q, const queued_message& m, peer_message::kind change) {
  journal_entry e{journal_entry::kind::drop, q.vhost, q.name, m.sequence, nullptr};
  if (change == peer_message::kind::mirror_push) {
    e.what = journal_entry::kind::push;
    e.msg = m.msg;
  } else if (change == peer_message::kind::mirror_delivered) {
    e.what = journal_entry::kind::delivered;
  } else if (change != peer_message::kind::mirror_drop) {
    return;
  }
  journal.push_back(std::move(e));
}

durable_definitions broker::definitions() const {
  durable_definitions d;
  // By id, the order they were declared in: a restore declares them in the same order.
  std::vector<const exchange_state*> exchanges;
  for (const auto& [id, e] : s_->exchanges) exchanges.push_back(e.get());
  std::sort(exchanges.begin(), exchanges.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<const queue_state*> queues;
  for (const auto& [id, q] : s_->queues) queues.push_back(q.get());
  std::sort(queues.begin(), queues.end(), [](auto* a, auto* b) { return a->id < b->id; });

  auto kept = [](const queue_state& q) { return q.durable && !q.exclusive; };
  for (const exchange_state* e : exchanges) {
    const exchange& ex = e->ex;
    if (!ex.durable() || ex.name().empty() || ex.name().starts_with("amq.")) continue;  // predeclared
    d.exchanges.push_back({e->vhost, {ex.name(), to_string(ex.type()), false, true, ex.auto_delete(), ex.internal(),
                                      ex.arguments()}});
  }
  for (const queue_state* q : queues) {
    if (kept(*q)) d.queues.push_back({q->vhost, {q->name, false, true, false, q->auto_delete, q->arguments}, q->owner});
  }
  for (const exchange_state* e : exchanges) {
    if (!e->ex.durable()) continue;
    for (const binding& b : e->ex.bindings()) {
      std::string destination;
      if (b.dest.is_exchange) {
        auto it = s_->exchanges.find(b.dest.id);
        if (it == s_->exchanges.end() || !it->second->ex.durable()) continue;
        destination = it->second->ex.name();
      } else {
        auto it = s_->queues.find(b.dest.id);
        if (it == s_->queues.end() || !kept(*it->second)) continue;
        destination = it->second->name;
      }
      d.bindings.push_back({e->vhost, e->ex.name(), std::move(destination), b.dest.is_exchange, b.key, b.arguments});
    }
  }
  return d;
}

definitions_loaded broker::load_definitions(const durable_definitions& d, instant now) {
  definitions_loaded loaded;
  std::map<std::pair<std::string, std::uint32_t>, channel_ref> admin;  // a connection per vhost and node
  auto channel = [&](const std::string& vhost, node_id node = {}) -> channel_ref {
    if (auto it = admin.find({vhost, node.value}); it != admin.end()) return it->second;
    add_vhost(vhost);
    const channel_ref c{open_connection(vhost, now, node).value_or(0), 1};
    (void)channel_open(c);
    return admin[{vhost, node.value}] = c;
  };
  auto note = [&](const result<void>& r, std::string_view what, std::uint64_t& count) {
    if (r) ++count;
    else loaded.refused.push_back(fmt::format("{}: {}", what, r.error().text));
  };
  for (const auto& e : d.exchanges) note(exchange_declare(channel(e.vhost), e.args), e.args.name, loaded.exchanges);
  for (const auto& q : d.queues) {
    auto r = queue_declare(channel(q.vhost, q.owner), q.args, now);
    note(r ? result<void>{} : std::unexpected(r.error()), q.args.name, loaded.queues);
  }
  for (const auto& b : d.bindings) {
    const auto c = channel(b.vhost);
    note(b.to_exchange ? exchange_bind(c, b.destination, b.source, b.routing_key, b.arguments)
                       : queue_bind(c, b.destination, b.source, b.routing_key, b.arguments),
         b.source + " -> " + b.destination, loaded.bindings);
  }
  for (const auto& [key, c] : admin) close_connection(c.conn, now);
  clear_events();
  return loaded;
}

result<void> broker::restore_message(std::string_view vhost, std::string_view queue, std::uint64_t sequence,
                                     message_ptr msg, bool delivered, instant now) {
  queue_state* q = s_->find_queue(vhost, queue);
  if (q == nullptr) return std::unexpected(make_error(reply_code::not_found, methods::queue_declare, "no such queue"));
  ++q->stats.published;
  const instant expires = state::expiry_of(*q, *msg, now);
  q->ready.push_back(queued_message{std::move(msg), sequence, expires, delivered ? 1u : 0u});
  q->next_sequence = std::max(q->next_sequence, sequence + 1);
  return {};
}

}  // namespace mqlab::broker::amqp
