// Fuzz target: an AMQP 0-9-1 client's byte stream into the server's connection state machine
// (frame codec, handshake, channels, content assembly) on a real broker core, with the core's
// events routed back as the transport routes them. The connection ends as a vanished client's
// does, so what it held is released. Seeds: fuzz/corpus/amqp_connection (real client sessions).
#include <cstddef>
#include <cstdint>

#include "broker/amqp/broker.h"
#include "fuzz/feed.h"
#include "net/amqp/connection.h"

using namespace mqlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const net::amqp::server_options options;
  broker::amqp::broker core;
  net::amqp::connection conn(core, options, true);
  broker::instant now{};
  conn.accepted(now);
  fuzz::feed(data, size, [&](std::string_view piece) {
    now.ns += 1'000'000;
    conn.receive(piece, now);
    for (const auto& e : core.take_events()) {
      if (conn.broker_id() == broker::amqp::target_of(e)) conn.on_event(e);
    }
    conn.output().clear();
    return !conn.done();
  });
  conn.peer_gone(now);
  return 0;
}
