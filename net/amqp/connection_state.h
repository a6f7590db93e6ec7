// Private to connection*.cc: a channel's state and its content being assembled.
#pragma once

#include <string>

#include "net/amqp/connection.h"

namespace mqlab::net::amqp {

/// A basic.publish waiting for its content header and body frames (spec §4.2.6).
struct connection::content {
  std::string exchange, routing_key;
  bool mandatory = false;
  bool have_header = false;
  std::uint64_t body_size = 0;
  std::shared_ptr<basic_properties> properties;
  std::string body;
};

struct connection::channel {
  enum class state { closed, open, closing } st = state::closed;
  std::optional<content> pending;
  std::string last_queue;  // "" in queue methods means the channel's last declared queue
};

}  // namespace mqlab::net::amqp
