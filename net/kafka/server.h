// The Kafka server: Boost.Asio transport around the service. Each broker of the embedded
// cluster gets its own listener on consecutive loopback ports; all run on one event loop
// (the core is single-threaded by design). Killing a broker closes its listener and sockets
// for real, and the cluster core moves leadership.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/kafka/service.h"

namespace boost::asio {
class io_context;
}

namespace mqlab::net::storage {
class flusher;
}

namespace mqlab::net::kafka {

class log_store;

struct listen_options {
  std::string bind = "127.0.0.1";
  std::uint16_t first_port = 9092;  // broker N listens on first_port + N; 0 = any free ports
  std::int32_t brokers = 1;
  /// How followers copy from their leaders. `fetching`, as Kafka's replica fetchers do: one
  /// fetch at a time per leader, each waiting at the leader up to the service's
  /// replica_fetch_wait_max_ms for new records, the next sent as soon as one is answered.
  /// `rounds`: one fetch per leader each time fetch_round() says so (net mode under
  /// `profile: ideal`, whose simulation copies on a tick).
  enum class replication { fetching, rounds };
  replication followers = replication::fetching;
  /// Kafka's connections.max.idle.ms: connections silent this long (with no reply pending) close.
  std::int64_t connections_max_idle_ms = 600'000;
  /// queued.max.request.bytes, per broker: requests whose bytes are arriving reserve their whole
  /// size (from the size prefix, at most 100 MiB each) against it; a connection whose request
  /// finds no room is not read from until others finish (Kafka's memory pool mutes it).
  std::uint64_t queued_max_request_bytes = 500ull << 20;
  /// advertised.listeners: the host and port each broker tells clients to connect to (a proxy
  /// or a NAT in front of it), by broker id; empty: the address it listens on.
  std::vector<std::pair<std::string, std::uint16_t>> advertised;
};

class server {
 public:
  /// `io` and `service` must outlive the server.
  server(boost::asio::io_context& io, service& s, listen_options listen);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Keeps the logs on disk: after each request, replication round and retention check the
  /// store writes what changed, and replies wait while the flusher holds their writes (an
  /// fsync policy of `always`). Both must outlive the server; call before start().
  void keep_on_disk(log_store& store, storage::flusher& flusher);
  /// Binds every broker's listener and advertises its address; an error names the address.
  std::expected<void, std::string> start();
  /// The bound port of each broker, by id.
  std::vector<std::uint16_t> ports() const;
  /// Broker `node` dies: its listener and connections close, leadership moves. False if no
  /// such broker or it is already down.
  bool kill(std::int32_t node);
  /// Broker `node` comes back on its old port and catches up as a follower.
  std::expected<void, std::string> restart(std::int32_t node);
  /// Every live follower fetches from its leaders now (replication::rounds).
  void fetch_round();
  /// Closes every listener and connection; the event loop then runs out.
  void stop();
  std::size_t connection_count() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mqlab::net::kafka
