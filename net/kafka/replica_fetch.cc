// Fetch v4 as a follower broker speaks it.
#include "net/kafka/replica_fetch.h"

#include "net/kafka/partition_walk.h"
#include "net/kafka/protocol.h"
#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

namespace {

constexpr std::int32_t partition_max_bytes = 1 << 20;

}  // namespace

std::string replica_fetch_request(std::int32_t follower, std::int32_t correlation_id,
                                  const std::vector<fetch_position>& positions, std::int32_t max_wait_ms) {
  std::string out;
  wire_writer w(out);
  const std::size_t size = w.size_placeholder();
  w.int16(static_cast<std::int16_t>(api_key::fetch));
  w.int16(4);
  w.int32(correlation_id);
  w.string(std::string("broker-") + std::to_string(follower));
  w.int32(follower);  // replica_id
  w.int32(max_wait_ms);
  w.int32(max_wait_ms > 0 ? 1 : 0);  // min_bytes: any record answers a waiting fetch
  w.int32(64 << 20);  // max_bytes
  w.int8(0);          // isolation_level
  // Positions come grouped by topic (the follower lists them topic by topic).
  write_by_topic(w, positions, [](const fetch_position& f) -> const std::string& { return f.first.topic; },
                 [&](const fetch_position& f) {
                   w.int32(f.first.partition);
                   w.int64(f.second);
                   w.int32(partition_max_bytes);
                 });
  w.fill_size(size);
  return out;
}

std::vector<fetched_partition> read_fetch_response(std::string_view body) {
  wire_reader in(body);
  (void)in.int32();  // throttle_time_ms
  std::vector<fetched_partition> out;
  for (std::int32_t t = in.array(6); t > 0; --t) {
    const std::string topic(in.string());
    for (std::int32_t n = in.array(30); n > 0; --n) {
      fetched_partition f;
      f.topic = topic;
      f.partition = in.int32();
      f.error = static_cast<broker::kafka::error_code>(in.int16());
      (void)in.int64();  // high_watermark
      (void)in.int64();  // last_stable_offset
      for (std::int32_t a = in.nullable_array(16).value_or(0); a > 0; --a) (void)in.take(16);
      f.records = in.bytes();
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace mqlab::net::kafka
