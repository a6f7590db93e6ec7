// Private to connection*.cc: a channel's state and its content being assembled.
#pragma once

#include <optional>
#include <string>

#include "net/amqp/connection.h"

namespace mqlab::net::amqp {

/// A basic.publish waiting for its content header and body frames (spec §4.2.6).
struct connection::content {
  std::string exchange, routing_key;
  bool mandatory = false;
  bool have_header = false;
  std::uint64_t body_size = 0;
  std::shared_ptr<const basic_properties> properties;
  std::string body;
};

struct connection::channel {
  enum class state { closed, open, closing } st = state::closed;
  std::optional<content> pending;
  std::string last_queue;  // "" in queue methods means the channel's last declared queue
  // What a hand-over to another node replays there.
  std::optional<std::uint16_t> consumer_prefetch, channel_prefetch;
  bool confirm = false;
  std::optional<broker::node_id> relayed;  // the node this channel's frames go to
};

}  // namespace mqlab::net::amqp
