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

void close_socket(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace mqlab::net
