// Wire-codec benchmarks: what the AMQP server spends per message on framing, without sockets.
#include <benchmark/benchmark.h>

#include <string>

#include "net/amqp/codec.h"
#include "net/kafka/record_batch.h"

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

// A fetch-sized record batch: 1000 records of 100 bytes with short keys.
std::vector<mqlab::broker::kafka::record> batch_records() {
  std::vector<mqlab::broker::kafka::record> records(1000);
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].offset = static_cast<std::int64_t>(i);
    records[i].timestamp_ms = 1'700'000'000'000 + static_cast<std::int64_t>(i);
    records[i].key = "key-" + std::to_string(i);
    records[i].value = std::string(100, 'x');
  }
  return records;
}

std::string encode(const std::vector<mqlab::broker::kafka::record>& records, std::string& out) {
  out.clear();
  mqlab::net::kafka::batch_writer w(out);
  for (const auto& r : records) w.add(r);
  w.finish();
  return out;
}

// What a Fetch response costs per record: varint framing and the CRC-32C. Counts records.
void BM_KafkaBatchEncode(benchmark::State& state) {
  const auto records = batch_records();
  std::string batch;
  for (auto _ : state) benchmark::DoNotOptimize(encode(records, batch));
  state.SetItemsProcessed(static_cast<std::int64_t>(records.size()) * state.iterations());
}
BENCHMARK(BM_KafkaBatchEncode);

// What a Produce request costs per record: CRC check and decoding into the core's records.
void BM_KafkaBatchDecode(benchmark::State& state) {
  const auto records = batch_records();
  std::string batch;
  encode(records, batch);
  for (auto _ : state) benchmark::DoNotOptimize(mqlab::net::kafka::decode_record_set(batch, 0));
  state.SetItemsProcessed(static_cast<std::int64_t>(records.size()) * state.iterations());
}
BENCHMARK(BM_KafkaBatchDecode);

}  // namespace
