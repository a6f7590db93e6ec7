// The STOMP server: Boost.Asio transport around the connection state machine, on one event loop
// with the JMS core (single-threaded by design). One listener, a reading coroutine per client,
// one write in flight per socket, a timer per connection for heart-beats and the connect
// timeout, and one at the core's next deadline (expiry, delayed redelivery).
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "net/stomp/service.h"

namespace boost::asio {
class io_context;
}

namespace mqlab::net::stomp {

struct listen_options {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 61613;  // ActiveMQ's STOMP port; 0 = any free port
  /// A connection whose unsent output exceeds this is not read from until the client has taken
  /// some (a client that sends without reading cannot make the server hold more).
  std::size_t max_unsent_bytes = 4u << 20;
};

class server {
 public:
  /// `io` and `s` must outlive the server.
  server(boost::asio::io_context& io, service& s, listen_options listen);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds the listener; an error names the address.
  std::expected<void, std::string> start();
  std::uint16_t port() const;
  /// Closes the listener and every connection; the event loop then runs out.
  void stop();
  std::size_t connection_count() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mqlab::net::stomp
