// One AMQP 0-9-1 connection as the server sees it: the handshake (protocol header, start/tune/
// open with PLAIN or AMQPLAIN), channels, content assembly, heartbeats and closing, translating
// frames to broker-core calls and broker events to frames. It owns no socket: the transport
// feeds it bytes and `now`, and sends what it leaves in output(), so the whole protocol is
// testable without a network.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/amqp/access.h"
#include "net/amqp/codec.h"

namespace mqlab::net::amqp {

using broker::instant;

struct user {
  std::string name, password;
};

/// What the server offers and enforces (connection.tune, spec §1.4.2.5).
struct server_options {
  std::vector<user> users{{"guest", "guest"}};
  std::uint16_t channel_max = 2047;
  std::uint32_t frame_max = 131072;
  // RabbitMQ's max_message_size (default 128 MiB, at most 512 MiB): a content header announcing
  // more is refused before anything is allocated for the body.
  std::uint64_t max_message_size = std::uint64_t{128} << 20;
  std::uint16_t heartbeat_s = 60;  // proposed; the client's tune-ok value is used
  std::uint32_t handshake_timeout_s = 10;  // RabbitMQ's handshake_timeout: from accept to connection.open
  std::string node_name = "mqlab@localhost";
  // Per-vhost permissions (net/amqp/access.h); none configured: every user may do everything.
  std::vector<permission> permissions;
};

/// A declare method's arguments as the broker core takes them.
broker::amqp::exchange_declare_args core_args(const exchange_declare& m);
broker::amqp::queue_declare_args core_args(const queue_declare& m);

/// The client property a cluster node sets on a connection it opens to relay a client's channel:
/// the node the client is on, which the owner's core accounts the connection to.
inline constexpr std::string_view cluster_node_property = "x-mqlab-cluster-node";

/// How a cluster member's connection reaches queues that other nodes own. In member mode the
/// server gives each connection one; a single node has none.
class cluster_link {
 public:
  virtual ~cluster_link() = default;
  /// The other node serving this queue's contents, if it is up and reachable; nullopt: this one.
  virtual std::optional<broker::node_id> elsewhere(std::string_view vhost, std::string_view queue) = 0;
  /// Hands channel `channel` over to node `to`: `frames` go there, and the first `replies` method
  /// frames it answers on the channel answer the replayed set-up, not the client.
  virtual void relay(broker::node_id to, std::uint16_t channel, std::string frames, std::uint32_t replies) = 0;
  /// A client here changed metadata: the other nodes apply it too.
  virtual void replicate(std::string_view vhost, const method& change) = 0;
};

class connection {
 public:
  /// `broker` and `options` must outlive the connection. RabbitMQ lets the default guest user
  /// in from loopback only; `loopback_peer` says where the client is. `node` is the cluster node
  /// whose listener accepted the client: the broker core serves it from there.
  connection(broker::amqp::broker& broker, const server_options& options, bool loopback_peer,
             broker::node_id node = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Consumes received bytes: handles every complete frame, keeps a partial one for later.
  void receive(std::string_view bytes, instant now);
  /// Writes a broker event addressed to this connection (delivery, confirm, return, ...).
  void on_event(const broker::amqp::event& e);
  /// The socket was accepted at `now`: the handshake must end within handshake_timeout_s.
  void accepted(instant now);
  /// Sends heartbeats and enforces the peer's and the handshake timeout; call at next_tick().
  void tick(instant now);
  instant next_tick() const;
  /// The socket went away: the broker requeues unacked deliveries and drops exclusive queues.
  void peer_gone(instant now);
  /// The server is shutting down: connection.close 320 CONNECTION_FORCED.
  void shutdown();
  /// The memory alarm: connection.blocked / unblocked to clients that support it.
  void set_blocked(bool blocked);
  /// True while blocked and this connection publishes: the transport stops reading from it.
  bool paused() const;
  /// Member mode: where channels on queues other nodes own are relayed. Must outlive the connection.
  void set_cluster_link(cluster_link* link) { link_ = link; }
  /// Node `node` can no longer be reached: the channels relayed there close (404).
  void relay_lost(broker::node_id node);

  /// Bytes to send; the transport takes them.
  std::string& output() { return out_; }
  /// The connection is over: send output() and close the socket.
  bool done() const { return phase_ == phase::done; }
  /// The connection's id in the broker once connection.open succeeded.
  std::optional<broker::amqp::connection_id> broker_id() const;
  /// The cluster node that serves this connection.
  broker::node_id node() const { return node_; }
  const std::string& vhost() const { return vhost_; }
  std::uint32_t frame_max() const { return frame_max_; }
  /// Why the connection ended, for the server log ("" while it runs or after a clean close).
  const std::string& end_reason() const { return end_reason_; }

 private:
  enum class phase { header, start_ok, tune_ok, open, running, closing, done };
  struct channel;
  struct content;
  friend struct method_handler;

  void handle_frame(const frame& f, instant now);
  void handle_connection_method(const method& m, instant now);
  void handle_start_ok(const connection_start_ok& m);
  void handle_tune_ok(const connection_tune_ok& m);
  void handle_open(const connection_open& m, instant now);
  void handle_channel_frame(const frame& f, instant now);
  void handle_channel_method(std::uint16_t ch, method& m, instant now);
  void handle_content(std::uint16_t ch, const frame& f, instant now);
  /// Runs a class 40/50/60/85/90 method against the broker; writes the reply.
  void dispatch(std::uint16_t ch, method& m, instant now);
  void publish(std::uint16_t ch, content& c, instant now);
  /// Member mode: moves the channel to the node that owns the queue `m` names, if another does.
  bool hand_over(std::uint16_t ch, const method& m, instant now);
  void relay_frame(const frame& f);
  void replicate(const method& change);
  /// A broker error: channel.close for soft errors, connection.close for hard ones.
  void fail(std::uint16_t ch, const broker::amqp::error& e);
  /// A hard error found here: "<REPLY_NAME> - <detail>".
  void connection_error(reply_code code, std::string_view detail, std::uint16_t class_id = 0,
                        std::uint16_t method_id = 0);
  void close_with(reply_code code, std::string_view text, std::uint16_t class_id, std::uint16_t method_id);
  void finish(std::string reason);
  channel& chan(std::uint16_t id);
  broker::amqp::channel_ref ref(std::uint16_t ch) const;

  broker::amqp::broker& broker_;
  const server_options& options_;
  bool loopback_peer_;
  broker::node_id node_;
  phase phase_ = phase::header;
  std::string in_, out_;
  std::optional<broker::amqp::connection_id> id_;
  std::vector<std::unique_ptr<channel>> channels_;
  std::uint16_t channel_max_ = 0;
  std::uint32_t frame_max_ = frame_min_size;
  std::uint16_t heartbeat_s_ = 0;
  instant last_received_{}, next_heartbeat_ = instant::never(), close_deadline_ = instant::never();
  instant handshake_deadline_ = instant::never();
  bool cancel_notify_ = false, blocked_notify_ = false, blocked_ = false, published_ = false;
  std::string user_, end_reason_, vhost_;
  std::optional<access> access_;  // the user's rights in vhost_, from connection.open
  cluster_link* link_ = nullptr;
  // The last content header's property bytes and what they decoded to: a publisher sending the
  // same properties again (the usual case) shares one object among all its queued messages.
  std::string last_property_bytes_;
  std::shared_ptr<const basic_properties> last_properties_;
};

}  // namespace mqlab::net::amqp
