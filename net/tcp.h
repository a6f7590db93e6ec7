// TCP pieces both servers share: opening a listener with a useful error, an accept loop that
// backs off when descriptors run out, a socket's outgoing side with one write in flight,
// closing a socket for good, and the end of a connection's coroutine that is always logged.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <chrono>
#include <cstdint>
#include <exception>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "net/log.h"

namespace mqlab::net {

/// A listening socket on bind:port (port 0: any free one); the error names the address and cause.
std::expected<std::shared_ptr<boost::asio::ip::tcp::acceptor>, std::string> open_listener(
    boost::asio::io_context& io, const std::string& bind, std::uint16_t port);

/// One listener per cluster node. A node keeps its port while it is down, so a restart opens it
/// on the same one; an accept loop holds the acceptor it serves, which outlives a restart.
class node_listeners {
 public:
  /// Opens node `node`'s listener on bind:port (0: any free port).
  std::expected<void, std::string> open(boost::asio::io_context& io, const std::string& bind, std::size_t node,
                                        std::uint16_t port);
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor(std::size_t node) const { return acceptors_.at(node); }
  /// Each node's port, by node, also for nodes that are down.
  const std::vector<std::uint16_t>& ports() const { return ports_; }
  std::size_t size() const { return acceptors_.size(); }
  void close(std::size_t node);
  void close_all();

 private:
  std::vector<std::shared_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::uint16_t> ports_;
};

/// Shuts down and closes, ignoring errors: the peer may already be gone.
void close_socket(boost::asio::ip::tcp::socket& socket);

/// Whether a failed accept means the process is out of descriptors or memory (EMFILE, ENFILE,
/// ENOBUFS, ENOMEM): the pending connection stays queued, so retrying at once would spin.
bool out_of_resources(const boost::system::error_code& ec);

/// How long an accept loop waits after running out of descriptors before it tries again.
inline constexpr std::chrono::milliseconds accept_backoff{100};

/// Accepts on `acceptor` while it is open and `stopping()` is false, handing each connection to
/// `on_accept(socket)`, non-blocking and with TCP_NODELAY. When descriptors run out it logs once per shortage and waits
/// accept_backoff between tries instead of spinning, as Asio's servers do on EMFILE.
template <typename Stopping, typename OnAccept>
boost::asio::awaitable<void> accept_connections(boost::asio::ip::tcp::acceptor& acceptor, std::string_view what,
                                                Stopping stopping, OnAccept on_accept) {
  boost::asio::steady_timer pause(acceptor.get_executor());
  bool short_of_resources = false;
  while (!stopping() && acceptor.is_open()) {
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket socket =
        co_await acceptor.async_accept(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec == boost::asio::error::operation_aborted) continue;  // closed: the loop condition ends it
    if (out_of_resources(ec)) {
      if (!short_of_resources) log(log_level::error, "{}: cannot accept a connection ({}); retrying every {} ms", what, ec.message(), accept_backoff.count());
      short_of_resources = true;
      pause.expires_after(accept_backoff);
      co_await pause.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      continue;
    }
    if (ec) continue;  // the client went away before we took it
    if (short_of_resources) log(log_level::info, "{}: accepting connections again", what);
    short_of_resources = false;
    socket.non_blocking(true, ec);  // read_ready() reads without ever blocking the loop
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);  // request/response protocols: no Nagle delay
    on_accept(std::move(socket));
  }
}

/// Waits until `socket` (non-blocking, as accept_connections leaves it) has bytes, then reads
/// what is there into `shared`, a buffer every connection of the event loop reads through, so
/// an idle connection holds no read buffer of its own. The bytes are valid until the caller's
/// next co_await. Returns how many were read; 0 with `ec` set when the connection is over.
boost::asio::awaitable<std::size_t> read_ready(boost::asio::ip::tcp::socket& socket, std::vector<char>& shared,
                                               boost::system::error_code& ec);

/// A co_spawn completion for a connection's coroutine: an exception that escaped it is logged
/// with `what` (the coroutine itself closes the socket and releases the connection's state).
struct log_escaped {
  std::string what;
  void operator()(std::exception_ptr e) const;
};

/// The outgoing side of a socket: at most one write in flight; bytes produced meanwhile wait in
/// the protocol's output buffer and leave together in the next write.
class outbox {
 public:
  bool busy() const { return writing_; }
  /// Starts writing `output` (taken, left empty) unless a write is in flight or there is nothing
  /// to send; then calls done(error) once the bytes are written. Returns whether it started.
  template <typename Done>
  bool send(boost::asio::ip::tcp::socket& socket, std::string& output, Done done) {
    if (writing_ || output.empty()) return false;
    sending_.clear();
    std::swap(sending_, output);
    writing_ = true;
    boost::asio::async_write(socket, boost::asio::buffer(sending_),
                             [this, done = std::move(done)](boost::system::error_code ec, std::size_t) mutable {
                               writing_ = false;
                               done(ec);
                             });
    return true;
  }

 private:
  std::string sending_;
  bool writing_ = false;
};

}  // namespace mqlab::net
