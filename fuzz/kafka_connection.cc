// Fuzz target: a Kafka client's byte stream into a connection (size-prefixed framing, request
// headers) and the request service behind it (every API, the record batch codec on Produce,
// groups) on a real cluster core, with deferred replies completed as the transport completes
// them. Seeds: fuzz/corpus/kafka_connection (real client sessions).
#include <cstddef>
#include <cstdint>

#include "broker/kafka/cluster.h"
#include "fuzz/feed.h"
#include "net/kafka/connection.h"
#include "net/kafka/service.h"

using namespace mqlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  broker::kafka::cluster core(1);
  net::kafka::service svc(core);
  svc.advertise({0, "127.0.0.1", 9092});
  net::kafka::connection conn(svc, 1, 0);
  std::int64_t now_ms = 1'000;
  conn.accepted(now_ms);
  fuzz::feed(data, size, [&](std::string_view piece) {
    now_ms += 10;
    conn.receive(piece, now_ms);
    svc.advance(now_ms);
    for (auto& c : svc.take_completions()) conn.complete(c.to.slot, std::move(c.body));
    conn.output().clear();
    return !conn.done();
  });
  svc.forget(conn.id());
  return 0;
}
