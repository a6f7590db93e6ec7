// A RabbitMQ-style cluster of separate nodes in one process: each node is an event loop on its
// own thread with its own broker core (member mode) and its own AMQP listener, on consecutive
// loopback ports. Nodes talk over TCP only: metadata changes, messages routed to another node's
// queue, and mirrored queues' contents travel on one-way links in the peer protocol
// (peer_protocol.h); a client's channel on a queue another node owns is relayed to the owner over
// AMQP. Killing a node closes its listener, its client sockets and its links for real; the
// surviving nodes learn of it and fail its queues over (mirrored), keep them unavailable
// (durable) or drop them (transient), as every core's cluster rules say.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/amqp/connection.h"
#include "net/storage/flusher.h"

namespace mqlab::net::amqp {

struct cluster_options {
  broker::amqp::cluster_config shape;  // nodes, ha-mode, ha-sync-mode; `self` is set per node
  server_options server;
  std::string bind = "127.0.0.1";
  std::uint16_t port = 5672;  // node N listens on port + N; 0 = any free ports
  std::uint64_t memory_high_watermark = 0;
  /// What a node's peer links prove they know (RabbitMQ's Erlang cookie, at most 255 bytes);
  /// empty: a random secret the nodes of this process share.
  std::string secret;
  /// Definitions every node loads at boot (exchanges, queues, bindings); runs once per core.
  std::function<void(broker::amqp::broker&)> define;
  /// Set: node K keeps its durable queues and persistent messages in `data_dir`/node-K
  /// (message_store.h), restored at start, fsynced as `fsync` says.
  std::optional<std::filesystem::path> data_dir;
  storage::fsync_policy fsync;
};

class cluster {
 public:
  explicit cluster(cluster_options options);
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Opens every node's listeners and links and starts their threads.
  std::expected<void, std::string> start();
  std::uint32_t size() const;
  /// Each node's AMQP port, by node.
  std::vector<std::uint16_t> ports() const;
  /// Each node's peer-link port, by node.
  std::vector<std::uint16_t> peer_ports() const;
  /// Node `node` crashes. False if there is no such node or it is down.
  bool kill(std::uint32_t node);
  /// Node `node` comes back on its old ports and is sent what it missed.
  std::expected<void, std::string> restart(std::uint32_t node);
  /// Cuts the links between two nodes (both ways) until heal().
  void partition(std::uint32_t a, std::uint32_t b);
  void heal(std::uint32_t a, std::uint32_t b);
  /// Closes every connection (320) and link and joins the threads.
  void stop();

  /// Runs `f` with node `node`'s core on that node's thread and waits for it.
  void inspect(std::uint32_t node, const std::function<void(const broker::amqp::broker&)>& f) const;
  /// Bytes the nodes have written to each other on their links.
  std::uint64_t link_bytes() const;
  /// CPU seconds each node's thread has used so far, by node.
  std::vector<double> cpu_seconds() const;

 private:
  struct member;
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mqlab::net::amqp
