// RabbitMQ clustering: metadata everywhere, queue contents on the owner node; normal queues
// become unavailable (durable) or are lost (transient) when their owner crashes, mirrored
// queues fail over to their oldest mirror. Inter-node traffic is counted for cost models.
#include <algorithm>

#include <fmt/format.h>

#include "broker/amqp/broker_state.h"

namespace mqlab::broker::amqp {

cluster_traffic& cluster_traffic::operator+=(const cluster_traffic& o) {
  messages += o.messages;
  bytes += o.bytes;
  mirror_copies += o.mirror_copies;
  return *this;
}

std::size_t broker::state::wanted_mirrors(const queue_state& q) const {
  const auto n = static_cast<std::uint32_t>(node_up.size());
  if (q.mirrored_everywhere) return n - 1;
  switch (cluster.mirroring) {
    case ha_mode::none: return 0;
    case ha_mode::all: return n - 1;
    case ha_mode::exactly: return std::clamp<std::uint32_t>(cluster.ha_replicas, 1, n) - 1;
  }
  return 0;
}

void broker::state::place_queue(queue_state& q, node_id declared_on) {
  // Classic queues live on the node of the declaring connection ("client-local").
  q.owner = declared_on;
  q.mirrors.clear();
  const std::size_t wanted = wanted_mirrors(q);
  const auto n = static_cast<std::uint32_t>(node_up.size());
  for (std::uint32_t i = 1; i < n && q.mirrors.size() < wanted; ++i) {
    const node_id candidate{(declared_on.value + i) % n};
    if (node_up[candidate.value]) q.mirrors.push_back(candidate);
  }
}

void broker::state::count_transfer(work_site from, node_id to, const message& m) {
  if (from.node == to) return;
  ++traffic.messages;
  traffic.bytes += m.body_size();
  // Leaving one node and joining another costs both: the sending process encodes it for the
  // link (Erlang's term_to_binary), the receiving node's link takes it in and decodes it.
  meter.charge(from, work_kind::transfer);
  meter.charge({to, 0}, work_kind::transfer);
}

void broker::state::charge_enqueue(const queue_state& q, const message& msg) {
  const auto bytes = static_cast<std::uint32_t>(msg.body_size());
  meter.charge(site_of(q), work_kind::enqueue);
  meter.charge(site_of(q), work_kind::bytes, bytes);
  if (kept_on_disk(q, msg)) {
    meter.charge(site_of(q), work_kind::persist_bytes, bytes);
    meter.charge(site_of(q), work_kind::fsync_request);
  }
}

bool broker::state::reachable(node_id a, node_id b) const {
  if (a == b || partitions.empty()) return true;
  const auto link = std::minmax(a.value, b.value);
  return std::find(partitions.begin(), partitions.end(), std::pair{link.first, link.second}) == partitions.end();
}

void broker::state::count_mirroring(const queue_state& q, std::uint64_t bytes, bool persistent) {
  if (q.mirrors.empty() && q.unsynced_mirrors.empty()) return;  // the common, unmirrored case
  // New messages and acks go to every reachable mirror, synchronised or not.
  std::uint64_t copies = 0;
  for (const auto* list : {&q.mirrors, &q.unsynced_mirrors}) {
    for (node_id m : *list) {
      if (!reachable(q.owner, m)) continue;
      ++copies;
      meter.charge({m, q.id}, bytes > 0 ? work_kind::mirror_copy : work_kind::mirror_settle);
      if (bytes > 0) meter.charge(site_of(q), work_kind::mirror_copy);
      meter.charge({m, q.id}, work_kind::bytes, static_cast<std::uint32_t>(bytes));
      if (persistent) {
        meter.charge({m, q.id}, work_kind::persist_bytes, static_cast<std::uint32_t>(bytes));
        meter.charge({m, q.id}, work_kind::fsync_request);
      }
    }
  }
  traffic.messages += copies;
  traffic.bytes += bytes * copies;
  if (bytes > 0) traffic.mirror_copies += copies;
}

void broker::partition(node_id a, node_id b) {
  if (a == b) return;
  const auto link = std::minmax(a.value, b.value);
  if (s_->reachable(a, b)) s_->partitions.emplace_back(link.first, link.second);
  if (s_->cluster.self == a) s_->forget_waits_on(b);
  if (s_->cluster.self == b) s_->forget_waits_on(a);
}

void broker::heal(node_id a, node_id b, instant now) {
  const auto link = std::minmax(a.value, b.value);
  std::erase(s_->partitions, std::pair{link.first, link.second});
  std::vector<queue_state*> all;
  for (auto& [id, q] : s_->queues) all.push_back(q.get());
  std::sort(all.begin(), all.end(), [](const queue_state* x, const queue_state* y) { return x->id < y->id; });
  for (queue_state* q : all) s_->dispatch(*q, now);
}

bool broker::node_up(node_id node) const {
  return node.value < s_->node_up.size() && s_->node_up[node.value];
}

bool broker::reaches(node_id from, node_id to) const { return node_up(to) && s_->reachable(from, to); }

void broker::crash_node(node_id node, instant now) {
  if (!node_up(node)) return;
  s_->node_up[node.value] = false;
  // The node's client connections drop: their unacked deliveries are requeued.
  std::vector<connection_id> dropped;
  for (const auto& [id, conn] : s_->connections) {
    if (conn.node == node) dropped.push_back(id);
  }
  std::sort(dropped.begin(), dropped.end());
  for (connection_id id : dropped) {
    s_->close_connection(id, now);
    s_->events.push_back(connection_closed{
        id, make_error(reply_code::connection_forced, {}, fmt::format("broker node {} went down", node.value))});
  }
  std::vector<queue_state*> owned;
  for (auto& [id, q] : s_->queues) {
    std::erase(q->mirrors, node);
    std::erase(q->unsynced_mirrors, node);
    if (q->owner == node) owned.push_back(q.get());
  }
  std::sort(owned.begin(), owned.end(), [](const queue_state* a, const queue_state* b) { return a->id < b->id; });
  for (queue_state* q : owned) {
    // Unacked deliveries held on other nodes' channels: a promoted mirror requeues them
    // (redelivered), a durable queue keeps its persistent ones on disk, otherwise they are lost.
    std::vector<queued_message> in_flight;
    s_->for_each_unacked(q->id, [&](unacked_delivery& d) {
      d.orphaned = true;
      --q->unacked;
      in_flight.push_back(std::move(d.m));
    });
    std::vector<consumer*> consumers = q->consumers;
    for (consumer* c : consumers) s_->cancel_consumer(*c, true, now);
    if (!q->mirrors.empty()) {
      q->owner = q->mirrors.front();  // the oldest synchronised mirror
      q->mirrors.erase(q->mirrors.begin());
      for (auto& m : in_flight) q->ready.requeue(std::move(m));
      continue;
    }
    if (q->durable) {
      q->available = false;
      for (auto& m : in_flight) {
        if (m.msg->properties()->persistent()) q->ready.requeue(std::move(m));
        else ++q->stats.lost;
      }
      continue;
    }
    q->stats.lost += q->ready.size() + in_flight.size();
    s_->delete_queue(*q, false, now);
  }
  // A member that crashes keeps only what its disk holds: its own durable queues. Mirror copies
  // are sent again in full when it rejoins.
  if (s_->cluster.self == node) {
    for (auto& [id, q] : s_->queues) {
      if (!s_->owns(*q)) q->ready.clear();
    }
    s_->waits.clear();
  } else if (s_->cluster.self) {
    s_->forget_waits_on(node);
  }
}

void broker::restart_node(node_id node, instant now) {
  if (node.value >= s_->node_up.size() || node_up(node)) return;
  s_->node_up[node.value] = true;
  std::vector<queue_state*> back;
  for (auto& [id, q] : s_->queues) {
    if (q->owner == node && !q->available) back.push_back(q.get());
  }
  std::sort(back.begin(), back.end(), [](const queue_state* a, const queue_state* b) { return a->id < b->id; });
  for (queue_state* q : back) {
    // Transient messages in a durable queue do not survive the restart.
    queue_store kept(q->max_priority);
    while (!q->ready.empty()) {
      queued_message m = q->ready.pop_front();
      if (m.msg->properties()->persistent()) kept.push_back(std::move(m));
      else ++q->stats.lost;
    }
    q->ready = std::move(kept);
    q->available = true;
    s_->dispatch(*q, now);
  }
  // A returning node rejoins mirrored queues as a mirror. With ha-sync-mode automatic it is
  // sent the queue's contents at once; with manual it only receives new messages.
  for (auto& [id, q] : s_->queues) {
    if (q->owner == node || q->mirrors.size() + q->unsynced_mirrors.size() >= s_->wanted_mirrors(*q)) continue;
    if (!s_->cluster.ha_sync_automatic && !q->ready.empty()) {
      q->unsynced_mirrors.push_back(node);
      continue;
    }
    q->mirrors.push_back(node);
    if (s_->owns(*q)) s_->sync_mirror(*q, node);
    s_->traffic.messages += q->ready.size();
    s_->traffic.bytes += q->ready.bytes();
    s_->traffic.mirror_copies += q->ready.size();
  }
}

}  // namespace mqlab::broker::amqp
