// The AMQP 0-9-1 server: Boost.Asio transport around the broker core. One event loop owns the
// core (which is single-threaded by design); each client socket gets a reading coroutine and a
// queue of outgoing bytes with one write in flight. Broker events are routed to the connection
// they address after every input, and message expiry runs on a timer at the core's deadline.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "broker/amqp/broker.h"
#include "net/amqp/connection.h"

namespace boost::asio {
class io_context;
}

namespace mqlab::net::amqp {

struct listen_options {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 5672;  // 0 = any free port (see server::port())
  /// connection.blocked goes out when queued message bytes reach this; 0 = never.
  std::uint64_t memory_high_watermark = 0;
};

class server {
 public:
  /// `io` and `broker` must outlive the server; all of them run on `io`'s thread.
  server(boost::asio::io_context& io, broker::amqp::broker& broker, server_options options, listen_options listen);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts accepting; an error names the address and the cause.
  std::expected<void, std::string> start();
  /// The bound port (after start()).
  std::uint16_t port() const;
  /// Stops accepting and closes every connection with 320 CONNECTION_FORCED; the event loop
  /// runs out once the goodbyes are written (or after a second).
  void stop();
  std::size_t connection_count() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mqlab::net::amqp
