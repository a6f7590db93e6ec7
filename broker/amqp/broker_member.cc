// Cluster member mode: one core per node. Metadata is everywhere; a queue's contents live on its
// owner (and its mirrors). A message routed to another node's queue, and every change to a
// mirrored queue, leaves as a peer_message for the network layer to carry; what other nodes
// send comes back in through accept_forwarded, forward_settled and the mirror calls.
#include <algorithm>

#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {

void broker::state::forward(queue_state& q, const message_ptr& msg, node_id from) {
  count_transfer(from, q.owner, *msg);
  auto note = std::make_shared<peer_message>();
  note->what = peer_message::kind::forward;
  note->to = {q.owner};
  note->vhost = q.vhost;
  note->queue = q.name;
  note->msg = msg;
  note->from = publishing.channel;
  note->sequence = publishing.sequence;
  if (publishing.sequence != 0) ++forwarded;
  announce(std::move(note));
}

void broker::state::tell_mirrors(const queue_state& q, const queued_message& m, bool joined) {
  if (!cluster.self || (q.mirrors.empty() && q.unsynced_mirrors.empty())) return;
  auto note = std::make_shared<peer_message>();
  note->what = joined ? peer_message::kind::mirror_push : peer_message::kind::mirror_drop;
  for (const auto* list : {&q.mirrors, &q.unsynced_mirrors}) {
    for (node_id n : *list) {
      if (reachable(q.owner, n)) note->to.push_back(n);
    }
  }
  note->vhost = q.vhost;
  note->queue = q.name;
  note->sequence = m.sequence;
  if (joined) {
    note->msg = m.msg;
    note->expires_at = m.expires_at;
  }
  announce(std::move(note));
}

void broker::state::sync_mirror(const queue_state& q, node_id mirror) {
  if (!cluster.self) return;
  auto push = [&](const queued_message& m) {
    auto note = std::make_shared<peer_message>();
    note->what = peer_message::kind::mirror_push;
    note->to = {mirror};
    note->vhost = q.vhost;
    note->queue = q.name;
    note->sequence = m.sequence;
    note->msg = m.msg;
    note->expires_at = m.expires_at;
    announce(std::move(note));
  };
  for (const auto& [cid, conn] : connections) {
    for (const auto& [chid, ch] : conn.channels) {
      for (const auto& d : ch.unacked) {
        if (d.queue == q.id && !d.orphaned) push(d.m);
      }
    }
  }
  q.ready.for_each(push);
}

std::optional<node_id> broker::owner_of(std::string_view vhost, std::string_view queue) const {
  const queue_state* q = s_->find_queue(vhost, queue);
  if (q == nullptr) return std::nullopt;
  return q->owner;
}

bool broker::accept_forwarded(std::string_view vhost, std::string_view queue, message_ptr msg, instant now) {
  queue_state* q = s_->find_queue(vhost, queue);
  if (q == nullptr || !s_->owns(*q)) return false;
  // Counted once, by the node that sent it; here it is a local publish.
  return s_->enqueue(*q, msg, q->owner, now);
}

void broker::forward_settled(channel_ref from, std::uint64_t sequence, bool accepted) {
  auto conn = s_->connections.find(from.conn);
  if (conn == s_->connections.end()) return;
  auto ch = conn->second.channels.find(from.ch);
  if (ch == conn->second.channels.end()) return;
  auto& awaiting = ch->second.awaiting;
  auto it = awaiting.find(sequence);
  if (it == awaiting.end()) return;
  it->second.accepted = it->second.accepted && accepted;
  if (--it->second.owners > 0) return;
  s_->events.push_back(confirm{from, sequence, false, it->second.accepted});
  awaiting.erase(it);
}

void broker::mirror_push(std::string_view vhost, std::string_view queue, std::uint64_t sequence, instant expires_at,
                         message_ptr msg) {
  queue_state* q = s_->find_queue(vhost, queue);
  if (q == nullptr || s_->owns(*q)) return;
  q->ready.erase(sequence);  // a full sync may repeat what an earlier push brought
  q->ready.requeue(queued_message{std::move(msg), sequence, expires_at, 0});
  q->next_sequence = std::max(q->next_sequence, sequence + 1);
}

void broker::mirror_drop(std::string_view vhost, std::string_view queue, std::uint64_t sequence) {
  queue_state* q = s_->find_queue(vhost, queue);
  if (q != nullptr && !s_->owns(*q)) q->ready.erase(sequence);
}

bool broker::channel_busy(channel_ref c) const {
  auto conn = s_->connections.find(c.conn);
  if (conn == s_->connections.end()) return false;
  auto ch = conn->second.channels.find(c.ch);
  if (ch == conn->second.channels.end()) return false;
  const channel_state& s = ch->second;
  return !s.active.empty() || !s.unacked.empty() || s.publish_sequence > 0 || s.tx;
}

void broker::forget_queue(std::string_view vhost, std::string_view queue, instant now) {
  queue_state* q = s_->find_queue(vhost, queue);
  if (q != nullptr && !s_->owns(*q)) s_->delete_queue(*q, true, now);
}

}  // namespace mqlab::broker::amqp
