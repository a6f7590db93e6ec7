// The small protocol cluster nodes speak to each other over TCP, beside AMQP: one-way links, a
// node writing to each other node. Each frame is a 32-bit length, a type octet and fields in
// AMQP's encodings (short strings, long strings, big-endian integers); a message travels as its
// exchange, routing key and AMQP content (header and body frames). Metadata changes travel as
// the AMQP method a client sent, for the receiver to apply as if the sender's client had.
// Pure code over byte buffers; decoding a malformed frame is an error, never a crash.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "broker/amqp/events.h"
#include "net/amqp/methods.h"
#include "net/amqp/wire.h"

namespace mqlab::net::amqp::peer {

/// The first frame on a link: who is writing, and the cluster's shared secret to prove it is
/// a node of this cluster (RabbitMQ's Erlang cookie); a link that does not is refused.
struct hello {
  std::uint32_t node = 0;
  std::string secret;
};
/// A client of the sender changed metadata (exchange/queue declare, delete, bind, unbind). The
/// client hears -ok once every node has applied it, as RabbitMQ's metadata store commits on all.
struct metadata {
  std::string vhost;
  method change;
  std::uint64_t barrier = 0;  // answered with applied{barrier}
};
/// The receiver applied the metadata change with this barrier.
struct applied {
  std::uint64_t barrier = 0;
};
/// The receiver handled `count` more of the sender's forwards: credit for its publishers
/// (credit_flow.h).
struct credit {
  std::uint32_t count = 0;
};
/// A core's peer_message (forward, settlement, mirror push or drop, removed queue).
using note = broker::amqp::peer_message;

using frame = std::variant<hello, metadata, applied, credit, note>;

/// Appends one frame to `out`.
void write(std::string& out, const frame& f);

/// The first complete frame of `in` and its size in bytes; nullopt when more bytes are needed.
std::expected<std::optional<std::pair<frame, std::size_t>>, wire_error> read(std::string_view in);

}  // namespace mqlab::net::amqp::peer
