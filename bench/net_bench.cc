// Wire-codec and server benchmarks: what the AMQP and Kafka servers spend per message on
// framing and on a request, without sockets.
#include <benchmark/benchmark.h>

#include <string>

#include "net/amqp/codec.h"
#include "broker/kafka/cluster.h"
#include "net/kafka/connection.h"
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

namespace kafka_wire {

using namespace mqlab::net::kafka;

std::string request(api_key api, std::int16_t version, const std::string& body) {
  std::string out;
  mqlab::net::kafka::wire_writer w(out);
  const auto size = w.size_placeholder();
  w.int16(static_cast<std::int16_t>(api));
  w.int16(version);
  w.int32(1);
  w.string("bench");
  w.raw(body);
  w.fill_size(size);
  return out;
}

/// A Produce v3 request (acks=1) of one record of `value` to orders/0.
std::string produce(const std::string& value) {
  std::string body, batch;
  mqlab::net::kafka::wire_writer w(body);
  w.nullable_string(std::nullopt);
  w.int16(1);
  w.int32(1000);
  w.array(1);
  w.string("orders");
  w.array(1);
  w.int32(0);
  batch_writer b(batch);
  mqlab::broker::kafka::record r;
  r.value = value;
  b.add(r);
  b.finish();
  w.bytes(batch);
  return request(api_key::produce, 3, body);
}

/// A consumer's Fetch v4 of orders/0 from `offset` that waits for `min_bytes`.
std::string fetch(std::int64_t offset, std::int32_t min_bytes) {
  std::string body;
  mqlab::net::kafka::wire_writer w(body);
  w.int32(-1);
  w.int32(1'000'000'000);
  w.int32(min_bytes);
  w.int32(1 << 30);
  w.int8(1);
  w.array(1);
  w.string("orders");
  w.array(1);
  w.int32(0);
  w.int64(offset);
  w.int32(1 << 30);
  return request(api_key::fetch, 4, body);
}

}  // namespace kafka_wire

// A produce of one 100-byte record while a consumer's fetch waits at the leader for 1 MiB
// (fetch.min.bytes): each produce checks the waiting fetch. Counts produces; a consumer
// that asks for much should cost each produce what it added, not all that waits.
void BM_KafkaProduceBesideAWaitingFetch(benchmark::State& state) {
  using namespace mqlab::net::kafka;
  mqlab::broker::kafka::cluster core(1);
  service svc(core);
  svc.advertise({0, "127.0.0.1", 9092});
  connection consumer{svc, 1, 0}, producer{svc, 2, 0};
  (void)core.create_topic("orders", {});
  const std::string record = kafka_wire::produce(std::string(100, 'x'));
  std::int64_t produced = 0;
  consumer.receive(kafka_wire::fetch(produced, 1 << 20), 0);
  std::int64_t answers = 0;
  for (auto _ : state) {
    producer.receive(record, 0);
    producer.output().clear();
    ++produced;
    for (auto& c : svc.take_completions()) {
      consumer.complete(c.to.slot, std::move(c.body));
      consumer.output().clear();
      consumer.receive(kafka_wire::fetch(produced, 1 << 20), 0);  // the next fetch, from the end
      ++answers;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["records_per_answer"] = answers > 0 ? static_cast<double>(produced) / static_cast<double>(answers) : 0;
}
BENCHMARK(BM_KafkaProduceBesideAWaitingFetch);

}  // namespace
