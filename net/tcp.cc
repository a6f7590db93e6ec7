// Listener setup and socket closing shared by the AMQP and Kafka servers.
#include "net/tcp.h"

#include <fmt/format.h>

namespace mqlab::net {

using boost::asio::ip::tcp;

std::expected<std::shared_ptr<tcp::acceptor>, std::string> open_listener(boost::asio::io_context& io,
                                                                         const std::string& bind, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(bind, ec);
  if (ec) return std::unexpected("--bind " + bind + ": not an IP address");
  const tcp::endpoint endpoint(address, port);
  auto acceptor = std::make_shared<tcp::acceptor>(io);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(fmt::format("cannot listen on {}:{}: {}", bind, port, ec.message()));
  return acceptor;
}

std::expected<void, std::string> node_listeners::open(boost::asio::io_context& io, const std::string& bind,
                                                     std::size_t node, std::uint16_t port) {
  auto acceptor = open_listener(io, bind, port);
  if (!acceptor) return std::unexpected(acceptor.error());
  if (acceptors_.size() <= node) acceptors_.resize(node + 1), ports_.resize(node + 1);
  boost::system::error_code ec;
  ports_[node] = (*acceptor)->local_endpoint(ec).port();
  acceptors_[node] = std::move(*acceptor);
  return {};
}

void node_listeners::close(std::size_t node) {
  boost::system::error_code ignored;
  acceptors_.at(node)->close(ignored);
}

void node_listeners::close_all() {
  for (std::size_t node = 0; node < acceptors_.size(); ++node) close(node);
}

void close_socket(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

// Defined here, not inline in the header: GCC 12 with LTO sees an inline coroutine's frame
// types in several translation units as an ODR violation.
boost::asio::awaitable<std::size_t> read_ready(tcp::socket& socket, std::vector<char>& shared, boost::system::error_code& ec) {
  for (;;) {
    co_await socket.async_wait(tcp::socket::wait_read, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return 0;
    const std::size_t n = socket.read_some(boost::asio::buffer(shared), ec);
    if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) co_return ec ? 0 : n;
  }
}

bool out_of_resources(const boost::system::error_code& ec) {
  return ec == boost::asio::error::no_descriptors || ec == boost::asio::error::no_buffer_space ||
         ec == boost::asio::error::no_memory || ec == boost::system::errc::too_many_files_open_in_system;
}

void log_escaped::operator()(std::exception_ptr e) const {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    log(log_level::error, "{} ended by an unexpected error: {}", what, x.what());
  } catch (...) {
    log(log_level::error, "{} ended by an unexpected error", what);
  }
}

}  // namespace mqlab::net
