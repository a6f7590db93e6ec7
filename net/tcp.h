// TCP pieces both servers share: opening a listener with a useful error, a socket's outgoing
// side with one write in flight, and closing a socket for good.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio.hpp>

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
