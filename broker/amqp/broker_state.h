// Private to the broker's implementation files: the object graph behind `broker`.
// Ownership: the state owns vhosts, queues and connections; connections own channels;
// channels own their consumers (also cancelled ones, so pointers held by unacked
// deliveries stay valid until the channel closes). Queues hold raw pointers to the active
// consumers of other channels; cancel and channel close remove them.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/amqp/broker.h"
#include "broker/amqp/queue_store.h"
#include "broker/work.h"

namespace mqlab::broker::amqp {

struct channel_state;

struct consumer {
  std::shared_ptr<const std::string> tag;
  channel_state* channel = nullptr;
  std::uint32_t queue = 0;
  bool no_ack = false;
  bool exclusive = false;
  bool active = true;
  std::uint16_t prefetch = 0;  // 0 = unlimited
  std::uint32_t unacked = 0;
};

enum class overflow_policy { drop_head, reject_publish, reject_publish_dlx };

struct queue_state {
  std::uint32_t id = 0;
  std::string name;
  std::string vhost;
  bool durable = false, exclusive = false, auto_delete = false;
  connection_id exclusive_owner = 0;
  field_table arguments;
  // Parsed arguments.
  std::optional<std::int64_t> message_ttl_ms;
  std::optional<std::uint64_t> max_length, max_length_bytes;
  overflow_policy overflow = overflow_policy::drop_head;
  std::optional<std::string> dead_letter_exchange, dead_letter_routing_key;
  std::uint8_t max_priority = 0;
  bool single_active_consumer = false;  // x-single-active-consumer: only the oldest consumer gets messages
  bool mirrored_everywhere = false;     // x-ha-policy "all" (RabbitMQ 2.x): whatever the cluster's policy

  queue_store ready;
  std::vector<consumer*> consumers;  // active consumers in round-robin order
  std::size_t next_consumer = 0;
  bool had_consumer = false;
  std::uint64_t next_sequence = 1;
  std::uint32_t unacked = 0;
  queue_stats stats;

  node_id owner;
  std::vector<node_id> mirrors;           // synchronised mirrors, oldest first
  std::vector<node_id> unsynced_mirrors;  // joined under ha-sync-mode manual, not yet in sync
  bool available = true;          // false while a non-mirrored owner is down
};

struct unacked_delivery {
  std::uint64_t tag = 0;
  std::uint32_t queue = 0;
  queued_message m;
  consumer* by = nullptr;  // null for basic.get
  bool orphaned = false;   // its queue failed over or went away: settling it does nothing
};

struct tx_publish {
  message_ptr msg;
  bool mandatory;
};
struct tx_settle {
  std::uint64_t tag;
  bool multiple;
  bool ack;
  bool requeue;
};

struct channel_state {
  channel_ref ref;
  node_id node;
  std::uint64_t next_tag = 1;
  std::deque<unacked_delivery> unacked;  // ordered by tag
  std::uint16_t consumer_prefetch = 0;   // basic.qos global=false: applies to new consumers
  std::uint16_t channel_prefetch = 0;    // basic.qos global=true: shared by the channel
  std::uint32_t consumer_unacked = 0;    // unacked deliveries to this channel's consumers
  std::vector<std::unique_ptr<consumer>> all_consumers;
  std::map<std::string, consumer*, std::less<>> active;
  bool confirm = false;
  std::uint64_t publish_sequence = 0;
  bool tx = false;
  std::vector<std::variant<tx_publish, tx_settle>> pending;
};

struct connection_state {
  std::string vhost;
  node_id node;
  std::map<channel_id, channel_state> channels;
};

struct exchange_state {
  std::uint32_t id = 0;
  std::string vhost;
  exchange ex;
};

struct vhost_state {
  std::unordered_map<std::string, std::uint32_t> exchanges;  // name -> id
  std::unordered_map<std::string, std::uint32_t> queues;     // name -> id
};

// The implementation: data plus the operations the public methods share.
struct broker::state {
  cluster_config cluster;
  std::vector<event> events;
  cluster_traffic traffic;
  work_meter meter;
  std::vector<bool> node_up;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> partitions;  // cut links, (low, high)
  std::unordered_map<std::string, vhost_state> vhosts;
  std::unordered_map<std::uint32_t, std::unique_ptr<exchange_state>> exchanges;
  std::unordered_map<std::uint32_t, std::unique_ptr<queue_state>> queues;
  std::unordered_map<connection_id, connection_state> connections;
  std::uint32_t next_exchange_id = 1, next_queue_id = 1;
  connection_id next_connection_id = 1;
  std::uint64_t generated_names = 0;
  queue_stats retired;  // counters of deleted queues
  bool journaling = false;
  std::vector<journal_entry> journal;
  std::uint64_t metadata_version = 0;

  // Scratch space reused by routing so a publish does not allocate.
  std::vector<destination> route_scratch;
  std::vector<std::uint32_t> exchange_stack, routed_queues;
  publish_ref publishing;  // member mode: the publish being routed, whose confirm copies wait for
  /// Member mode: publishes whose confirm (here) or settlement (to another node) waits for the
  /// nodes that received copies. A lost owner refuses the copy; a lost mirror just leaves.
  struct wait {
    struct node_wait {
      node_id node;
      bool owner;
    };
    std::vector<node_wait> pending;
    bool accepted = true;
  };
  std::map<publish_ref, wait> waits;

  // Lookups; the result<> forms fail with the error a client would see.
  result<connection_state*> connection(connection_id conn, method_ref m);
  result<channel_state*> channel(channel_ref c, method_ref m);
  queue_state* find_queue(std::string_view vhost, std::string_view name);
  exchange_state* find_exchange(std::string_view vhost, std::string_view name);
  /// A queue the channel may use: exists, reachable and not exclusive to another connection.
  result<queue_state*> usable_queue(channel_ref c, std::string_view vhost, std::string_view name, method_ref m);

  /// Applies a failed call: a soft error closes the channel, a hard one the connection.
  error fail(channel_ref c, error e, instant now);

  // Routing and queues (broker_basic.cc).
  /// Routing work is charged to `site` (the publishing channel, or the dead-lettering queue).
  void route(std::uint32_t exchange_id, std::string_view routing_key, const field_table& headers, work_site site);
  /// route(), with the default exchange resolved by queue name.
  void route_from(const exchange_state& ex, std::string_view routing_key, const field_table& headers, work_site site);
  /// The serialising process of a queue, and of a channel (RabbitMQ runs one Erlang process each).
  static work_site site_of(const queue_state& q) { return {q.owner, q.id}; }
  static work_site site_of(const channel_state& ch) {
    return {ch.node, std::uint64_t{1} << 63 | std::uint64_t{ch.ref.conn} << 16 | ch.ref.ch};
  }
  /// `confirmed`: the publisher is in confirm mode, so a refusal reaches it as a nack.
  bool enqueue(queue_state& q, const message_ptr& msg, node_id from, instant now, bool confirmed);
  /// When a message joining `q` at `now` expires (x-message-ttl, the expiration property).
  static instant expiry_of(const queue_state& q, const message& msg, instant now);
  void dispatch(queue_state& q, instant now);
  void deliver(queue_state& q, consumer& c, queued_message m);
  void dead_letter(queue_state& q, queued_message m, std::string_view reason, instant now);
  void expire(queue_state& q, instant now, bool include_now);
  void settle(channel_state& ch, unacked_delivery& d, bool ack, bool requeue, instant now);
  result<void> settle_tags(channel_ref c, std::uint64_t tag, bool multiple, bool ack, bool requeue, method_ref m,
                           instant now);
  result<void> publish(channel_ref c, message_ptr msg, bool mandatory, instant now);
  /// confirm.select / tx.select: sets `mode` unless the channel is already in `excluded`.
  result<void> select_mode(channel_ref c, method_ref m, bool channel_state::*mode, bool channel_state::*excluded,
                           const char* refusal);

  // Lifecycle (broker_admin.cc).
  void close_channel(connection_state& conn, channel_state& ch, instant now);
  void close_connection(connection_id id, instant now);
  void cancel_consumer(consumer& c, bool notify, instant now);
  void delete_queue(queue_state& q, bool notify_consumers, instant now);
  void delete_exchange(exchange_state& e);
  void requeue_unacked(channel_state& ch, instant now);
  /// Calls f(unacked_delivery&) for every delivery of queue `queue` still out on some channel.
  template <typename F>
  void for_each_unacked(std::uint32_t queue, F&& f) {
    for (auto& [cid, conn] : connections) {
      for (auto& [chid, ch] : conn.channels) {
        for (auto& d : ch.unacked) {
          if (d.queue == queue && !d.orphaned) f(d);
        }
      }
    }
  }
  struct binding_ends {
    exchange_state* source = nullptr;
    destination dest;
  };
  /// Resolves both ends of a bind/unbind; `dest_is_exchange` picks exchange or queue.
  result<binding_ends> resolve_binding(channel_ref c, std::string_view dest, bool dest_is_exchange,
                                       std::string_view source, method_ref m, instant now);
  /// Unbinding what is not bound succeeds; an auto-delete source goes with its last binding.
  result<void> unbind(channel_ref c, std::string_view dest, bool dest_is_exchange, std::string_view source,
                      std::string_view routing_key, const field_table& args, method_ref m);
  std::uint32_t declare_exchange(std::string_view vhost, std::string name, exchange_type type, bool durable,
                                 bool auto_delete, bool internal, field_table args);

  // Cluster (broker_cluster.cc).
  bool reachable(node_id a, node_id b) const;
  /// Mirrors the ha policy asks for `q`: the cluster's, or its own x-ha-policy.
  std::size_t wanted_mirrors(const queue_state& q) const;
  void place_queue(queue_state& q, node_id declared_on);
  /// Counts a message leaving site `from` for node `to`, and charges both ends if they differ.
  void count_transfer(work_site from, node_id to, const message& m);
  /// Counts a change replicated to a queue's reachable mirrors: a message of `bytes` (0: an
  /// ack or reject) and the work each mirror does to take it — for a `persistent` message,
  /// writing it to its own disk before it answers, as a classic mirror does.
  void count_mirroring(const queue_state& q, std::uint64_t bytes, bool persistent = false);
  /// The owner's work for a message joining `q`: the enqueue, and for a message kept on disk
  /// the write to the message store that its confirm waits for.
  void charge_enqueue(const queue_state& q, const message& msg);
  /// RabbitMQ writes a message to disk when it is persistent and its queue durable.
  static bool kept_on_disk(const queue_state& q, const message& msg) { return q.durable && msg.properties()->persistent(); }

  // Cluster member mode (broker_member.cc). The inline checks sit on the hot path of every
  // publish and delivery: a plain core pays one test of cluster.self.
  /// True unless this core is a member and another node owns the queue.
  bool owns(const queue_state& q) const { return !cluster.self || q.owner == *cluster.self; }
  /// True if this core is a member and other nodes hold copies of the queue.
  bool has_mirrors(const queue_state& q) const {
    return cluster.self && !(q.mirrors.empty() && q.unsynced_mirrors.empty());
  }
  /// Sends a message routed to a queue another node owns there.
  void forward(queue_state& q, const message_ptr& msg, node_id from);
  /// A message joined, was delivered from or left a mirrored queue this node owns
  /// (mirror_push, mirror_delivered, mirror_drop).
  /// The same changes go to the journal.
  void tell_mirrors(const queue_state& q, const queued_message& m, peer_message::kind change) {
    if (has_mirrors(q)) send_to_mirrors(q, m, change);
    journal_change(q, m, change);
  }
  /// A change to a queue's contents, for the journal if the message is persistent and the
  /// queue durable (on its owner, and on a mirror keeping its copy).
  void journal_change(const queue_state& q, const queued_message& m, peer_message::kind change) {
    if (journaling && kept_on_disk(q, *m.msg)) note_in_journal(q, m, change);
  }
  void note_in_journal(const queue_state& q, const queued_message& m, peer_message::kind change);
  void send_to_mirrors(const queue_state& q, const queued_message& m, peer_message::kind change);
  /// Builds `change` (mirror_push, mirror_delivered or mirror_drop) of message `m` for `to`.
  std::shared_ptr<peer_message> mirror_note(peer_message::kind change, std::vector<node_id> to, const queue_state& q,
                                            const queued_message& m) const;
  /// Tells the other nodes that this node deleted a queue it owned.
  void announce_removed(const queue_state& q);
  /// Sends a returning mirror the queue's whole contents (ready and unacked).
  void sync_mirror(const queue_state& q, node_id mirror);
  void announce(std::shared_ptr<peer_message> note) { events.emplace_back(std::shared_ptr<const peer_message>(std::move(note))); }
  /// The publish being routed now waits for `node` too.
  void await(node_id node, bool owner);
  /// `node` settled its copy of `p` (a lost node settles as it must: owners refuse, mirrors leave).
  void settle_copy(const publish_ref& p, node_id node, bool accepted);
  /// A publish's copies are all settled: its confirm goes out here, or its settlement to its node.
  void finish_wait(const publish_ref& p, bool accepted);
  /// Node `gone` can no longer answer: every wait stops waiting for it.
  void forget_waits_on(node_id gone);
  void send_settled(node_id to, const publish_ref& p, bool accepted);
  void accept_forwarded(const peer_message& m, instant now);
};

/// 406 "inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'".
error inequivalent(method_ref m, std::string_view what, std::string_view arg, std::string_view received,
                   std::string_view current);
const char* yes_no(bool b);
/// Builds an error with RabbitMQ's text form "NAME - detail".
error make_error(reply_code code, method_ref method, std::string detail);
/// Queue names appear in errors as "queue 'q' in vhost '/'".
std::string describe_queue(std::string_view vhost, std::string_view name);
std::string describe_exchange(std::string_view vhost, std::string_view name);

}  // namespace mqlab::broker::amqp
