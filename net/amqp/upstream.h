// One AMQP connection from a cluster node to another, carrying the channels of one client that
// the other node serves: it logs in on the client's behalf (saying which node the client is on),
// passes the client's frames through, and hands back every frame the other node sends on a
// channel, except the replies to the set-up a hand-over replays there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker/common.h"

namespace boost::asio {
class io_context;
}

namespace mqlab::net::amqp {

struct upstream_login {
  std::string host;  // the other node's address
  std::string user, password, vhost;
  std::uint32_t frame_max = 0;
  broker::node_id client_node;  // the node the client is connected to
};

struct upstream_handlers {
  /// Frames for the client, whole and in order.
  std::function<void(std::string_view frames)> frames;
  /// The connection failed or the other node closed it; called once.
  std::function<void()> lost;
};

class upstream {
 public:
  /// `io` must outlive the upstream; handlers run on it.
  upstream(boost::asio::io_context& io, upstream_handlers handlers);
  ~upstream();
  upstream(const upstream&) = delete;
  upstream& operator=(const upstream&) = delete;

  /// Connects to host:`port` and logs in; frames sent meanwhile follow the login.
  void open(std::uint16_t port, const upstream_login& login);
  /// Sends a channel's frames; the first `replies` method frames back on it are dropped.
  void send(std::uint16_t channel, std::string_view frames, std::uint32_t replies);
  /// Closes the socket without a goodbye (its node crashed); no handler runs after.
  void close();
  /// Says goodbye (connection.close) and closes once it is written, whatever becomes of this
  /// object; no handler runs after.
  void finish();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace mqlab::net::amqp
