// Produce and Fetch: record batches into and out of the cluster core, with acks, leadership
// checks, byte limits and long polling (max_wait_ms / min_bytes).
#include "net/kafka/service.h"

#include <algorithm>

#include <fmt/format.h>

#include "net/byte_order.h"
#include "net/kafka/partition_walk.h"
#include "net/kafka/record_batch.h"

namespace mqlab::net::kafka {

using broker::kafka::error_code;

namespace {

// Records visited per step while filling a fetch up to its byte limit.
constexpr std::size_t fetch_step = 512;

std::optional<broker::kafka::acks> parse_acks(std::int16_t a) {
  switch (a) {
    case 0: return broker::kafka::acks::none;
    case 1: return broker::kafka::acks::leader;
    case -1: return broker::kafka::acks::all;
    default: return std::nullopt;
  }
}

}  // namespace

outcome service::produce(wire_reader& in, std::int16_t version, std::int32_t node, std::int64_t now_ms) {
  if (version >= 3) (void)in.nullable_string();  // transactional_id
  const auto acks = parse_acks(in.int16());
  (void)in.int32();  // timeout_ms: replication to in-sync followers is immediate
  outcome o;
  wire_writer w(o.body);
  for_each_partition(in, w, 8, [&](const std::string& name, std::int32_t p) {
    const auto set = in.nullable_bytes();
    error_code e = acks ? leadership(name, p, node) : error_code::invalid_required_acks;
    std::int64_t base = -1;
    if (e == error_code::none) {
      if (auto records = decode_record_set(set.value_or(""), now_ms); !records) {
        e = records.error().code;
      } else {
        const auto r = core_.produce(name, p, std::move(*records), *acks, now_ms);
        e = r.error;
        base = r.base_offset;
      }
    }
    w.int16(static_cast<std::int16_t>(e));
    w.int64(base);
    if (version >= 2) w.int64(-1);  // log_append_time: CreateTime topics
  });
  if (version >= 1) w.int32(0);
  if (!parked_.empty()) wake_fetches(now_ms);
  if (acks == broker::kafka::acks::none) o.what = outcome::kind::silent;
  return o;
}

outcome service::fetch(wire_reader& in, std::int16_t version, std::int32_t node, reply_slot from, std::int64_t now_ms) {
  const std::string_view request = in.take(in.remaining());
  wire_reader first(request);
  if (auto body = fetch_response(first, version, node, false)) return {outcome::kind::respond, std::move(*body)};
  wire_reader again(request);
  (void)again.int32();
  const std::int32_t max_wait = again.int32();
  parked_.push_back({from, version, node, std::string(request), now_ms + std::max(0, max_wait)});
  return {outcome::kind::later, {}};
}

std::optional<std::string> service::fetch_response(wire_reader& in, std::int16_t version, std::int32_t node,
                                                   bool final) {
  (void)in.int32();  // replica_id: only consumers fetch here
  const std::int32_t max_wait = in.int32();
  const std::int32_t min_bytes = in.int32();
  std::size_t budget = version >= 3 ? static_cast<std::size_t>(std::max(0, in.int32())) : SIZE_MAX;
  if (version >= 4) (void)in.int8();  // isolation_level: there are no transactions to hide
  std::string body = response_body();
  wire_writer w(body);
  if (version >= 1) w.int32(0);
  std::size_t total = 0;
  bool errors = false;
  for_each_partition(in, w, 16, [&](const std::string& name, std::int32_t p) {
    const std::int64_t offset = in.int64();
    const auto cap = std::min(static_cast<std::size_t>(std::max(0, in.int32())), budget);
    error_code e = leadership(name, p, node);
    const std::int64_t hw = e == error_code::none ? core_.partition(name, p).high_watermark : -1;
    const std::size_t error_at = w.size();
    w.int16(0);
    w.int64(hw);
    if (version >= 4) {
      w.int64(hw);  // last_stable_offset: librdkafka reads committed, so it must reach the HW
      w.array(0);   // aborted_transactions
    }
    const std::size_t size_at = w.size_placeholder();
    if (e == error_code::none && cap > 0) e = append_batch(body, name, p, offset, cap);
    w.fill_size(size_at);
    const std::size_t bytes = w.size() - size_at - 4;
    total += bytes;
    budget -= std::min(budget, bytes);
    if (e != error_code::none) {
      errors = true;
      store_be(body.data() + error_at, static_cast<std::int16_t>(e));
    }
  });
  const bool enough = total >= static_cast<std::size_t>(std::max(0, min_bytes));
  if (final || errors || enough || max_wait <= 0) return body;
  return std::nullopt;
}

error_code service::append_batch(std::string& body, const std::string& topic, std::int32_t p, std::int64_t offset,
                                 std::size_t cap) const {
  // KIP-74: the first record goes out even when it alone exceeds the limit, so consumers progress.
  batch_writer batch(body);
  std::int64_t next = offset;
  bool full = false;
  error_code e = error_code::none;
  while (!full) {
    auto seen = core_.fetch_visit(topic, p, next, fetch_step, [&](const broker::kafka::record& r) {
      if (full) return;
      batch.add(r);
      next = r.offset + 1;
      full = batch.size() >= cap;
    });
    if (!seen) e = seen.error();
    if (!seen || *seen < fetch_step) break;
  }
  batch.finish();
  return e;
}

void service::wake_fetches(std::int64_t now_ms) {
  std::erase_if(parked_, [&](parked_fetch& f) {
    wire_reader in(f.request);
    auto body = fetch_response(in, f.version, f.node, now_ms >= f.deadline_ms);
    if (!body) return false;
    completions_.push_back({f.from, std::move(*body)});
    return true;
  });
}

}  // namespace mqlab::net::kafka
