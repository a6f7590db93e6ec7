// The AMQP personality of the embedded broker core: RabbitMQ's model (vhosts, exchanges,
// queues, bindings, channels, consumers, acknowledgements, confirms, TTL, dead-lettering,
// length limits, priorities) and RabbitMQ clusters (normal and mirrored queues), as a state
// machine. It does no I/O, reads no clock and starts no thread: every call takes `now`,
// answers with a value or an error carrying the AMQP reply code, and leaves deliveries,
// confirms and returns in events() for the caller to act on. The API follows AMQP 0-9-1
// methods one for one, so the simulator and the network server drive the same code.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/amqp/events.h"
#include "broker/amqp/exchange.h"
#include "broker/amqp/field_table.h"
#include "broker/amqp/message.h"
#include "broker/amqp/reply_code.h"
#include "broker/common.h"
#include "broker/work.h"

namespace mqlab::broker::amqp {

template <typename T>
using result = std::expected<T, error>;

struct exchange_declare_args {
  std::string name;
  std::string type = "direct";
  bool passive = false, durable = false, auto_delete = false, internal = false;
  field_table arguments;
};

struct queue_declare_args {
  std::string name;  // "" asks the broker for a name (amq.gen-...)
  bool passive = false, durable = false, exclusive = false, auto_delete = false;
  field_table arguments;  // x-message-ttl, x-max-length, x-dead-letter-exchange, x-max-priority, ...
};

struct queue_declare_ok {
  std::string name;
  std::uint32_t message_count = 0;
  std::uint32_t consumer_count = 0;
};

struct consume_args {
  std::string queue;
  std::string consumer_tag;  // "" asks the broker for one (amq.ctag-...)
  bool no_ack = false, exclusive = false;
  field_table arguments;
};

struct get_ok {
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::uint32_t message_count = 0;  // messages left in the queue
  message_ptr msg;
};

/// Cluster-wide counters a cost model charges for.
struct cluster_traffic {
  std::uint64_t messages = 0;  // messages sent between nodes (publish forwarding, fetches, mirror copies)
  std::uint64_t bytes = 0;
  std::uint64_t mirror_copies = 0;
  cluster_traffic& operator+=(const cluster_traffic& o);
};

/// Per-queue counters. A publish the queue cannot take because it is down or out of reach is
/// `refused` when its publisher hears so (a confirm-mode channel gets a basic.nack) and `lost`
/// when it does not; `lost` also counts what a queue held when it went away.
struct queue_stats {
  std::uint64_t published = 0, delivered = 0, redelivered = 0, acked = 0;
  std::uint64_t dead_lettered = 0, dropped = 0, expired = 0, rejected_publishes = 0, lost = 0, refused = 0;
  queue_stats& operator+=(const queue_stats& o);
};

/// A change a server keeping durable queues on disk must write (broker::keep_journal): a
/// persistent message joined a durable queue, was delivered from it (after a restart it is a
/// redelivery), or left it for good (ack, dead-lettering, expiry, overflow, purge); or a
/// durable queue was deleted with whatever it held.
struct journal_entry {
  enum class kind { push, delivered, drop, queue_removed };
  kind what = kind::push;
  std::string vhost, queue;
  std::uint64_t sequence = 0;  // the message's place in its queue
  message_ptr msg;             // push only
};

/// The durable part of the metadata, which a restarted RabbitMQ recovers: durable exchanges
/// (the predeclared ones aside), durable queues that are not exclusive, and the bindings
/// between them.
struct durable_definitions {
  struct exchange_def {
    std::string vhost;
    exchange_declare_args args;
  };
  struct queue_def {
    std::string vhost;
    queue_declare_args args;
    node_id owner;  // the node it lives on (mirrors follow from the ha policy)
  };
  struct binding_def {
    std::string vhost, source, destination;
    bool to_exchange = false;
    std::string routing_key;
    field_table arguments;
  };
  std::vector<exchange_def> exchanges;
  std::vector<queue_def> queues;
  std::vector<binding_def> bindings;
};

/// What broker::load_definitions declared, and what it could not, each with the broker's reason.
struct definitions_loaded {
  std::uint64_t exchanges = 0, queues = 0, bindings = 0;
  std::vector<std::string> refused;
};

enum class ha_mode { none, all, exactly };

/// A RabbitMQ cluster's shape. One node by default.
struct cluster_config {
  std::uint32_t nodes = 1;
  ha_mode mirroring = ha_mode::none;  // the ha-mode policy applied to every queue
  std::uint32_t ha_replicas = 2;      // for ha_mode::exactly: owner + mirrors
  /// ha-sync-mode: automatic copies a queue's contents to a returning mirror at once; manual
  /// leaves it unsynchronised (not eligible for promotion) until the queue has drained.
  bool ha_sync_automatic = true;
  /// Member mode: this core is node `self` of a cluster whose other nodes run cores of their
  /// own. It keeps the whole cluster's metadata but the contents of only the queues it owns or
  /// mirrors; what the other nodes must do appears as peer_message events (see "cluster member").
  std::optional<node_id> self;
};

class broker {
 public:
  explicit broker(cluster_config cluster = {});
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // --- vhosts, connections, channels -----------------------------------------------------
  void add_vhost(std::string name);
  /// Opens a connection on `node` to `vhost` (530 NOT_ALLOWED if the vhost does not exist).
  result<connection_id> open_connection(std::string_view vhost, instant now, node_id node = {});
  /// Closes a connection: its channels close, unacked deliveries are requeued, exclusive queues go.
  void close_connection(connection_id conn, instant now);
  result<void> channel_open(channel_ref c);
  void channel_close(channel_ref c, instant now);

  // --- exchanges, queues, bindings -------------------------------------------------------
  result<void> exchange_declare(channel_ref c, const exchange_declare_args& a);
  result<void> exchange_delete(channel_ref c, std::string_view name, bool if_unused);
  result<void> exchange_bind(channel_ref c, std::string_view destination, std::string_view source,
                             std::string_view routing_key, const field_table& args = {});
  result<void> exchange_unbind(channel_ref c, std::string_view destination, std::string_view source,
                               std::string_view routing_key, const field_table& args = {});
  result<queue_declare_ok> queue_declare(channel_ref c, const queue_declare_args& a, instant now);
  result<void> queue_bind(channel_ref c, std::string_view queue, std::string_view exchange,
                          std::string_view routing_key, const field_table& args = {});
  result<void> queue_unbind(channel_ref c, std::string_view queue, std::string_view exchange,
                            std::string_view routing_key, const field_table& args = {});
  /// Returns the number of messages purged.
  result<std::uint32_t> queue_purge(channel_ref c, std::string_view queue);
  /// Returns the number of messages deleted with the queue.
  result<std::uint32_t> queue_delete(channel_ref c, std::string_view queue, bool if_unused, bool if_empty,
                                     instant now);

  // --- basic -----------------------------------------------------------------------------
  result<void> basic_qos(channel_ref c, std::uint16_t prefetch_count, bool global, instant now);
  /// Returns the consumer tag.
  result<std::string> basic_consume(channel_ref c, const consume_args& a, instant now);
  result<void> basic_cancel(channel_ref c, std::string_view consumer_tag, instant now);
  result<void> basic_publish(channel_ref c, std::string_view exchange, std::string_view routing_key,
                             bool mandatory, std::shared_ptr<const basic_properties> properties, std::string body,
                             instant now);
  /// Publishes an already built message (its exchange and routing key say where).
  result<void> basic_publish(channel_ref c, message_ptr msg, bool mandatory, instant now);
  /// nullopt = get-empty.
  result<std::optional<get_ok>> basic_get(channel_ref c, std::string_view queue, bool no_ack, instant now);
  result<void> basic_ack(channel_ref c, std::uint64_t delivery_tag, bool multiple, instant now);
  result<void> basic_nack(channel_ref c, std::uint64_t delivery_tag, bool multiple, bool requeue, instant now);
  result<void> basic_reject(channel_ref c, std::uint64_t delivery_tag, bool requeue, instant now);
  /// Requeues every unacked delivery of the channel (requeue=false is not supported, as in RabbitMQ).
  result<void> basic_recover(channel_ref c, bool requeue, instant now);
  result<void> confirm_select(channel_ref c);
  result<void> tx_select(channel_ref c);
  result<void> tx_commit(channel_ref c, instant now);
  result<void> tx_rollback(channel_ref c);

  // --- time ------------------------------------------------------------------------------
  /// When advance() next has something to do (message expiry), or instant::never().
  instant next_deadline() const;
  /// Expires messages due at `now` (dead-lettering them where configured).
  void advance(instant now);

  // --- cluster ---------------------------------------------------------------------------
  /// Crashes a node: its connections close, its queues become unavailable (durable), are lost
  /// (transient) or fail over to a mirror (mirrored).
  void crash_node(node_id node, instant now);
  /// Restarts a crashed node: durable queues come back with their persistent messages.
  void restart_node(node_id node, instant now);
  bool node_up(node_id node) const;
  /// True if node `to` is up and no partition separates it from `from`.
  bool reaches(node_id from, node_id to) const;
  /// Cuts the link between two nodes: neither reaches queues owned by the other (they look
  /// down from across the cut), publishes across it are lost, consumers across it get nothing.
  void partition(node_id a, node_id b);
  /// Restores the link and resumes delivery.
  void heal(node_id a, node_id b, instant now);
  const cluster_traffic& traffic() const;

  // --- cost -------------------------------------------------------------------------------
  /// The work the calls did since the meter was last cleared (off until enabled): routing on
  /// the publishing channel's process, enqueues, deliveries and acks on each queue's process,
  /// copies on each mirror. A model prices it; the core never reads it.
  work_meter& meter();

  // --- cluster member (cluster_config::self) ----------------------------------------------
  /// Where a queue's contents live, if it exists.
  std::optional<node_id> owner_of(std::string_view vhost, std::string_view queue) const;
  /// Takes what node `from` sent: a forwarded message, a settlement, a mirror update or a
  /// removed queue. Confirms wait until every owner and mirror of every copy has settled.
  void receive(const peer_message& m, node_id from, instant now);
  /// True if the channel has consumers, unacked deliveries, confirms or a transaction: state that
  /// cannot move to another node.
  bool channel_busy(channel_ref c) const;

  // --- a server's storage (the core itself does no I/O) -------------------------------------
  /// Off by default: records journal entries for persistent messages in durable queues.
  void keep_journal(bool on);
  /// Moves the entries recorded since the last call into `out` (emptied first).
  void take_journal_into(std::vector<journal_entry>& out);
  /// Changes whenever an exchange, queue or binding is declared, bound or deleted.
  std::uint64_t metadata_version() const;
  durable_definitions definitions() const;
  /// Declares `d` as clients would, in order: vhosts as needed, exchanges, queues (each from its
  /// home node, so a cluster member places it there), bindings (a definitions file, a restore).
  definitions_loaded load_definitions(const durable_definitions& d, instant now);
  /// Restoring from disk: a persistent message back in durable queue `queue` at its old place,
  /// marked redelivered if it had been delivered. Call in sequence order, before clients come.
  result<void> restore_message(std::string_view vhost, std::string_view queue, std::uint64_t sequence,
                               message_ptr msg, bool delivered, instant now);

  // --- observation -----------------------------------------------------------------------
  /// Events produced since the last clear_events(), in order.
  const std::vector<event>& events() const;
  void clear_events();
  /// Moves the events out (cheaper than copy + clear).
  std::vector<event> take_events();
  /// Moves the events into `out` (emptied first), leaving the broker `out`'s old storage: a
  /// caller that recycles its vectors takes events without allocating.
  void take_events_into(std::vector<event>& out);

  struct queue_info {
    std::string name;
    std::uint32_t ready = 0, unacked = 0, consumers = 0;
    std::uint64_t ready_bytes = 0;
    node_id owner;
    bool available = true;
    queue_stats stats;
  };
  std::optional<queue_info> inspect_queue(std::string_view vhost, std::string_view queue) const;
  bool exchange_exists(std::string_view vhost, std::string_view exchange) const;
  /// Counters summed over every queue, also those since deleted.
  queue_stats totals() const;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace mqlab::broker::amqp
