// Wire-codec benchmarks: what the AMQP server spends per message on framing, without sockets.
#include <benchmark/benchmark.h>

#include <string>

#include "net/amqp/codec.h"

namespace {

using namespace mqlab::net::amqp;

// basic.publish + content header (content-type, delivery-mode) + a 100-byte body: encoded into a
// reused buffer, then decoded back (frame split, method arguments, properties). Counts frames.
void BM_AmqpFrameCodec(benchmark::State& state) {
  basic_properties props;
  props.content_type = "application/octet-stream";
  props.delivery_mode = 2;
  const std::string body(100, 'x');
  std::string buffer;
  for (auto _ : state) {
    buffer.clear();
    write_method(buffer, 1, basic_publish{.exchange = "orders", .routing_key = "order.created"});
    write_content(buffer, 1, props, body, 131072);
    std::string_view rest = buffer;
    auto publish = decode_frame(rest, 131072);
    auto m = decode_method((*publish)->payload);
    rest.remove_prefix((*publish)->size());
    auto header = decode_frame(rest, 131072);
    auto h = decode_content_header((*header)->payload);
    rest.remove_prefix((*header)->size());
    auto payload = decode_frame(rest, 131072);
    benchmark::DoNotOptimize(m);
    benchmark::DoNotOptimize(h);
    benchmark::DoNotOptimize(payload);
  }
  state.SetItemsProcessed(3 * state.iterations());
}
BENCHMARK(BM_AmqpFrameCodec);

}  // namespace
