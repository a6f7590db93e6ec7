// The AMQP 0-9-1 server: Boost.Asio transport around the broker core. One event loop owns the
// core (which is single-threaded by design); each client socket gets a reading coroutine and a
// queue of outgoing bytes with one write in flight. Broker events are routed to the connection
// they address after every input, and message expiry runs on a timer at the core's deadline.
// Killing the node closes its listener and sockets for real. In member mode the server is one
// node of a cluster of cores (cluster.h): a client channel that works on a queue another node
// owns is relayed, frame for frame, over an AMQP connection to that node.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/amqp/connection.h"

namespace boost::asio {
class io_context;
}

namespace mqlab::net::storage {
class flusher;
}

namespace mqlab::net::amqp {

class message_store;

/// What a server that is one node of a cluster of cores (one core per node, see cluster.h)
/// needs from the cluster around it.
struct member_hooks {
  broker::node_id self;
  /// Where the other nodes are reached (their listeners share this node's address).
  std::string host = "127.0.0.1";
  /// Node `n`'s AMQP port, where a channel on a queue it owns is relayed.
  std::function<std::uint16_t(broker::node_id n)> amqp_port;
  /// The core's messages for other nodes (forwards, mirror updates, removed queues).
  std::function<void(const std::shared_ptr<const broker::amqp::peer_message>&)> to_peers;
  /// Metadata a client changed here, for the other nodes; `applied` runs once they all have it.
  std::function<void(std::string_view vhost, const method& change, std::function<void()> applied)> replicate;
  /// Whether a client connection has used up its credit with the other nodes' queues
  /// (credit_flow.h): it is not read until resume_reading() names it.
  std::function<bool(broker::amqp::connection_id)> in_flow;
};

struct listen_options {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 5672;  // 0 = any free port (see server::port())
  /// connection.blocked goes out while the process holds this many bytes (net/memory_alarm.h); 0 = never.
  std::uint64_t memory_high_watermark = 0;
  /// Set when this server is one member of a cluster of cores: it listens as node `self`.
  std::optional<member_hooks> member;
};

class server {
 public:
  /// `io` and `broker` must outlive the server; all of them run on `io`'s thread.
  server(boost::asio::io_context& io, broker::amqp::broker& broker, server_options options, listen_options listen);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Keeps durable queues and persistent messages on disk: after each input the store writes
  /// what the core journaled, and a connection owed a publisher confirm hears nothing more
  /// until the flusher has the writes before it on disk (under `--fsync always`). Both must
  /// outlive the server; call before start().
  void keep_on_disk(message_store& store, storage::flusher& flusher);
  /// Binds and starts accepting; an error names the address and the cause.
  std::expected<void, std::string> start();
  /// The bound port (after start()).
  std::uint16_t port() const;
  /// The node crashes: its listener and client sockets close without a goodbye and the core
  /// loses what a crash loses. False if `node` is not this node or it is down.
  bool kill(std::uint32_t node);
  /// The node comes back on its old port.
  std::expected<void, std::string> restart(std::uint32_t node);
  /// Runs a change to the core from outside the protocol (a network partition, administration)
  /// at the server's clock's `now`, and sends clients what follows from it.
  void administer(const std::function<void(broker::amqp::broker&, broker::instant now)>& change);
  /// Member mode: connection `conn` got credit back and is read again.
  void resume_reading(broker::amqp::connection_id conn);
  /// Member mode: node `node` went out of reach; client channels relayed there close.
  void relays_lost(broker::node_id node);
  /// Stops accepting and closes every connection with 320 CONNECTION_FORCED; the event loop
  /// runs out once the goodbyes are written (or after a second).
  void stop();
  std::size_t connection_count() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mqlab::net::amqp
