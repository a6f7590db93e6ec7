// Cluster member mode: one core per node. Metadata is everywhere; a queue's contents live on its
// owner (and its mirrors). A message routed to another node's queue, and every change to a
// mirrored queue, leaves as a peer_message for the network layer to carry; what other nodes send
// comes back in through receive(). A publisher's confirm waits until every node that took a copy
// (the owners of forwarded copies, and their mirrors) has settled it, as RabbitMQ's does.
#include <algorithm>

#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {
namespace {

std::shared_ptr<peer_message> note_for(peer_message::kind what, std::vector<node_id> to, const queue_state& q) {
  auto note = std::make_shared<peer_message>();
  note->what = what;
  note->to = std::move(to);
  note->vhost = q.vhost;
  note->queue = q.name;
  return note;
}

}  // namespace

void broker::state::await(node_id node, bool owner) {
  if (publishing.sequence != 0) waits[publishing].pending.push_back({node, owner});
}

void broker::state::forward(queue_state& q, const message_ptr& msg, node_id from) {
  count_transfer({from, 0}, q.owner, *msg);
  auto note = note_for(peer_message::kind::forward, {q.owner}, q);
  note->msg = msg;
  note->publish = publishing;
  await(q.owner, true);
  announce(std::move(note));
}

void broker::state::send_to_mirrors(const queue_state& q, const queued_message& m, peer_message::kind change) {
  std::vector<node_id> to;
  for (const auto* list : {&q.mirrors, &q.unsynced_mirrors}) {
    for (node_id n : *list) {
      if (reachable(q.owner, n)) to.push_back(n);
    }
  }
  auto note = mirror_note(change, to, q, m);
  if (change == peer_message::kind::mirror_push) {
    note->publish = publishing;
    for (node_id n : to) await(n, false);
  }
  announce(std::move(note));
}

std::shared_ptr<peer_message> broker::state::mirror_note(peer_message::kind change, std::vector<node_id> to,
                                                         const queue_state& q, const queued_message& m) const {
  auto note = note_for(change, std::move(to), q);
  note->sequence = m.sequence;
  if (change == peer_message::kind::mirror_push) {
    note->msg = m.msg;
    note->expires_at = m.expires_at;
  }
  return note;
}

void broker::state::announce_removed(const queue_state& q) {
  std::vector<node_id> others;
  for (std::uint32_t n = 0; n < node_up.size(); ++n) {
    if (n != cluster.self->value) others.push_back(node_id{n});
  }
  announce(note_for(peer_message::kind::queue_removed, std::move(others), q));
}

void broker::state::sync_mirror(const queue_state& q, node_id mirror) {
  if (!cluster.self) return;
  auto push = [&](const queued_message& m) {
    announce(mirror_note(peer_message::kind::mirror_push, {mirror}, q, m));
    if (m.deliveries > 0) announce(mirror_note(peer_message::kind::mirror_delivered, {mirror}, q, m));
  };
  for_each_unacked(q.id, [&](const unacked_delivery& d) { push(d.m); });
  q.ready.for_each(push);
}

void broker::state::settle_copy(const publish_ref& p, node_id node, bool accepted) {
  auto it = waits.find(p);
  if (it == waits.end()) return;
  auto& pending = it->second.pending;
  const auto at = std::find_if(pending.begin(), pending.end(), [&](const wait::node_wait& w) { return w.node == node; });
  if (at == pending.end()) return;
  pending.erase(at);
  it->second.accepted = it->second.accepted && accepted;
  if (!pending.empty()) return;
  const bool all = it->second.accepted;
  waits.erase(it);
  finish_wait(p, all);
}

void broker::state::finish_wait(const publish_ref& p, bool accepted) {
  if (p.node == *cluster.self) events.push_back(confirm{p.channel, p.sequence, false, accepted});
  else send_settled(p.node, p, accepted);
}

void broker::state::send_settled(node_id to, const publish_ref& p, bool accepted) {
  auto note = std::make_shared<peer_message>();
  note->what = peer_message::kind::settled;
  note->to = {to};
  note->publish = p;
  note->accepted = accepted;
  announce(std::move(note));
}

void broker::state::forget_waits_on(node_id gone) {
  std::vector<std::pair<publish_ref, bool>> lost;  // (publish, whether `gone` owned a copy)
  for (auto it = waits.begin(); it != waits.end();) {
    if (it->first.node == gone) {
      it = waits.erase(it);  // its publisher went with it
      continue;
    }
    for (const auto& w : it->second.pending) {
      if (w.node == gone) lost.emplace_back(it->first, w.owner);
    }
    ++it;
  }
  for (const auto& [p, owner] : lost) settle_copy(p, gone, !owner);
}

void broker::state::accept_forwarded(const peer_message& m, instant now) {
  queue_state* q = find_queue(m.vhost, m.queue);
  publishing = m.publish;
  // Counted once, by the node that sent it; here it is a local publish.
  const bool ok = q != nullptr && owns(*q) && enqueue(*q, m.msg, q->owner, now, m.publish.sequence != 0);
  publishing = {};
  if (m.publish.sequence == 0) return;
  if (auto it = waits.find(m.publish); it != waits.end()) {
    it->second.accepted = it->second.accepted && ok;  // settled once the mirrors have it
    return;
  }
  finish_wait(m.publish, ok);
}

void broker::receive(const peer_message& m, node_id from, instant now) {
  queue_state* q = s_->find_queue(m.vhost, m.queue);
  const bool mirror_copy = q != nullptr && !s_->owns(*q);
  switch (m.what) {
    case peer_message::kind::forward: return s_->accept_forwarded(m, now);
    case peer_message::kind::settled: return s_->settle_copy(m.publish, from, m.accepted);
    case peer_message::kind::mirror_push:
      if (mirror_copy) {
        q->ready.erase(m.sequence);  // a full sync may repeat what an earlier push brought
        q->ready.requeue(queued_message{m.msg, m.sequence, m.expires_at, 0});
        q->next_sequence = std::max(q->next_sequence, m.sequence + 1);
        s_->journal_change(*q, *q->ready.find(m.sequence), m.what);
      }
      // Settled either way: a mirror that no longer has the queue holds nothing up.
      if (m.publish.sequence != 0) s_->send_settled(from, m.publish, true);
      return;
    case peer_message::kind::mirror_delivered:
      if (mirror_copy) {
        if (queued_message* copy = q->ready.find(m.sequence)) {
          copy->deliveries = std::max(copy->deliveries, 1u);
          s_->journal_change(*q, *copy, m.what);
        }
      }
      return;
    case peer_message::kind::mirror_drop:
      if (!mirror_copy) return;
      if (const queued_message* copy = q->ready.find(m.sequence)) {
        s_->journal_change(*q, *copy, m.what);
        q->ready.erase(m.sequence);
      }
      return;
    case peer_message::kind::queue_removed:
      if (mirror_copy) s_->delete_queue(*q, true, now);
      return;
  }
}

std::optional<node_id> broker::owner_of(std::string_view vhost, std::string_view queue) const {
  const queue_state* q = s_->find_queue(vhost, queue);
  if (q == nullptr) return std::nullopt;
  return q->owner;
}

bool broker::channel_busy(channel_ref c) const {
  auto conn = s_->connections.find(c.conn);
  if (conn == s_->connections.end()) return false;
  auto ch = conn->second.channels.find(c.ch);
  if (ch == conn->second.channels.end()) return false;
  const channel_state& s = ch->second;
  return !s.active.empty() || !s.unacked.empty() || s.publish_sequence > 0 || s.tx;
}

}  // namespace mqlab::broker::amqp
