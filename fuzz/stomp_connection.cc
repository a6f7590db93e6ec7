// Fuzz target: a STOMP client's byte stream into a connection (the frame codec, every command,
// the JMS mapping) on a real JMS core, beside a second connection subscribed to what it sends,
// so that deliveries, acknowledgements and transactions are exercised both ways. Seeds:
// fuzz/corpus/stomp_connection (sessions as stomp.py sends them).
#include <cstddef>
#include <cstdint>
#include <string>

#include "broker/jms/broker.h"
#include "fuzz/feed.h"
#include "net/stomp/connection.h"

using namespace mqlab;
using namespace std::string_literals;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  broker::jms::broker core;
  net::stomp::service svc(core, {.max_subscriptions = 16, .max_transactions = 4, .max_transaction_bytes = 1 << 16});
  broker::instant now{1'700'000'000'000'000'000};
  net::stomp::connection watcher(svc, true, now);
  watcher.receive("CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\nid:w\ndestination:/queue/q\nack:client\n\n\0"s, now);
  net::stomp::connection conn(svc, true, now);
  fuzz::feed(data, size, [&](std::string_view piece) {
    now.ns += 10'000'000;
    conn.receive(piece, now);
    conn.tick(now);
    svc.advance(now);
    for (auto* c : {&conn, &watcher}) {
      c->output_taken(now);
      c->output().clear();
      c->output_written(now);
    }
    return !conn.done();
  });
  conn.closed(now);
  watcher.closed(now);
  return 0;
}
