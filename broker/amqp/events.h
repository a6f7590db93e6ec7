// What the broker tells its caller besides return values: deliveries to push to consumers,
// publisher confirms, returned messages, and closes the server initiates. The caller drains
// them after each call (the simulator schedules consumer work, the network layer writes frames).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "broker/amqp/message.h"
#include "broker/amqp/reply_code.h"
#include "broker/common.h"

namespace mqlab::broker::amqp {

using connection_id = std::uint32_t;
using channel_id = std::uint16_t;

/// A channel of a connection, the address of most calls.
struct channel_ref {
  connection_id conn = 0;
  channel_id ch = 0;
  auto operator<=>(const channel_ref&) const = default;
};

/// basic.deliver to a consumer.
struct delivery {
  channel_ref to;
  std::shared_ptr<const std::string> consumer_tag;
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  message_ptr msg;
};

/// basic.ack / basic.nack from the broker to a publisher in confirm mode.
struct confirm {
  channel_ref to;
  std::uint64_t sequence = 0;
  bool multiple = false;
  bool ack = true;
};

/// basic.return of an unroutable mandatory message.
struct returned {
  channel_ref to;
  reply_code code = reply_code::no_route;
  std::string text;
  message_ptr msg;
};

/// basic.cancel from the broker: the consumer's queue was deleted or became unavailable.
struct consumer_cancelled {
  channel_ref to;
  std::string consumer_tag;
};

/// The broker closed a connection (its node crashed, or it was forced).
struct connection_closed {
  connection_id conn = 0;
  error reason;
};

/// A publish whose confirm waits for other nodes: the node and channel it was published on and
/// its confirm sequence (0: the publisher asked for no confirm).
struct publish_ref {
  node_id node;
  channel_ref channel;
  std::uint64_t sequence = 0;
  auto operator<=>(const publish_ref&) const = default;
};

/// Cluster member mode only (cluster_config::self): what another node of the cluster must hear.
/// Shared and immutable, so the event variant stays small on the hot path.
struct peer_message {
  enum class kind {
    forward,        // a message routed here to a queue another node owns: the owner takes it
    settled,        // the owner took (or refused) a forward, or a mirror took a copy
    mirror_push,       // a message joined a mirrored queue this node owns: mirrors keep a copy
    mirror_delivered,  // it went to a consumer: if a mirror is promoted, it is a redelivery
    mirror_drop,       // it left the queue for good: mirrors drop theirs
    queue_removed,  // this node deleted a queue it owned: the others forget it
  };
  kind what = kind::forward;
  std::vector<node_id> to;
  std::string vhost, queue;
  message_ptr msg;                        // forward and mirror_push
  std::uint64_t sequence = 0;             // mirror_*: the message's place in the queue
  publish_ref publish;                    // forward, settled, mirror_push: the publish whose confirm waits
  bool accepted = true;                   // settled
  instant expires_at = instant::never();  // mirror_push: when the owner will expire it
};

using event = std::variant<delivery, confirm, returned, consumer_cancelled, connection_closed,
                           std::shared_ptr<const peer_message>>;

/// The connection an event is for.
inline connection_id target_of(const event& e) {
  return std::visit(
      [](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::shared_ptr<const peer_message>>) return connection_id{0};
        else if constexpr (requires { x.to; }) return x.to.conn;
        else return x.conn;
      },
      e);
}

}  // namespace mqlab::broker::amqp
