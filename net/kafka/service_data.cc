// Produce and Fetch: record batches into and out of the cluster core, with acks, leadership
// checks, byte limits and long polling (max_wait_ms / min_bytes).
#include "net/kafka/service.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "net/byte_order.h"
#include "net/kafka/partition_walk.h"
#include "net/kafka/record_batch.h"

namespace mqlab::net::kafka {

using broker::kafka::error_code;

namespace {

// Records visited per step while filling a fetch up to its byte limit.
constexpr std::size_t fetch_step = 512;
// The least a record takes in a batch beside its key, value and headers: seven one-byte varints
// (its length, attributes, timestamp and offset deltas, key and value lengths, header count).
constexpr std::size_t least_record_framing = 7;
// Most records a follower takes per partition per fetch.
constexpr std::size_t follower_fetch_records = 4096;

std::optional<broker::kafka::acks> parse_acks(std::int16_t a) {
  switch (a) {
    case 0: return broker::kafka::acks::none;
    case 1: return broker::kafka::acks::leader;
    case -1: return broker::kafka::acks::all;
    default: return std::nullopt;
  }
}

}  // namespace

outcome service::produce(wire_reader& in, std::int16_t version, std::int32_t node, reply_slot from,
                         std::int64_t now_ms) {
  if (version >= 3) (void)in.nullable_string();  // transactional_id
  const auto acks = parse_acks(in.int16());
  const std::int32_t timeout_ms = in.int32();
  std::vector<produced> results;
  // The reply is written from the results below (now, or once the followers have the records).
  for_each_partition(in, nullptr, 8, [&](const std::string& name, std::int32_t p) {
    const auto set = in.nullable_bytes();
    produced r{name, p, acks ? leadership(name, p, node) : error_code::invalid_required_acks};
    if (r.error == error_code::none) {
      if (auto records = decode_record_set(set.value_or(""), now_ms); !records) {
        r.error = records.error().code;
      } else {
        const auto count = static_cast<std::int64_t>(records->size());
        const auto written = core_.produce(name, p, std::move(*records), *acks, now_ms);
        r.error = written.error;
        r.base = written.base_offset;
        r.end = written.base_offset + count;
      }
    }
    results.push_back(std::move(r));
  });
  if (!parked_.empty()) wake_fetches(now_ms);
  if (acks == broker::kafka::acks::none) return {outcome::kind::silent, {}};
  // acks=all with followers fetching over the network: the reply waits for the high watermark.
  if (acks == broker::kafka::acks::all && core_.follower_fetching()) {
    parked_produces_.push_back({from, version, std::move(results), now_ms + std::max(0, timeout_ms)});
    wake_produces(now_ms);
    return {outcome::kind::later, {}};
  }
  return {outcome::kind::respond, produce_response(version, results)};
}

std::string service::produce_response(std::int16_t version, const std::vector<produced>& results) {
  std::string body = response_body();
  wire_writer w(body);
  write_by_topic(w, results, [](const produced& r) -> const std::string& { return r.topic; }, [&](const produced& r) {
    w.int32(r.partition);
    w.int16(static_cast<std::int16_t>(r.error));
    w.int64(r.base);
    if (version >= 2) w.int64(-1);  // log_append_time: CreateTime topics
  });
  if (version >= 1) w.int32(0);
  return body;
}

void service::wake_produces(std::int64_t now_ms) {
  std::erase_if(parked_produces_, [&](parked_produce& pp) {
    const bool expired = now_ms >= pp.deadline_ms;
    for (const auto& r : pp.results) {
      if (r.error == error_code::none && core_.partition(r.topic, r.partition).high_watermark < r.end && !expired) {
        return false;
      }
    }
    for (auto& r : pp.results) {
      if (r.error != error_code::none) continue;
      if (core_.partition(r.topic, r.partition).high_watermark >= r.end) core_.acknowledge(r.topic, r.partition, r.end);
      else r.error = error_code::request_timed_out;
    }
    completions_.push_back({pp.from, produce_response(pp.version, pp.results)});
    return true;
  });
}

outcome service::fetch(wire_reader& in, std::int16_t version, std::int32_t node, reply_slot from, std::int64_t now_ms) {
  const std::string_view request = in.take(in.remaining());
  if (const std::int32_t replica = wire_reader(request).int32(); replica >= 0 && !replica_links_.contains(from.connection)) {
    throw wire_error{fmt::format("replica_id {} from a connection that is not a follower broker's link", replica)};
  }
  wire_reader first(request);
  if (auto body = fetch_response(first, version, node, false, now_ms)) return {outcome::kind::respond, std::move(*body)};
  wire_reader again(request);
  (void)again.int32();
  const std::int32_t max_wait = again.int32();
  parked_.push_back({from, version, node, std::string(request), now_ms + std::max(0, max_wait)});
  return {outcome::kind::later, {}};
}

std::optional<std::string> service::fetch_response(wire_reader& in, std::int16_t version, std::int32_t node,
                                                   bool final, std::int64_t now_ms) {
  const std::int32_t replica = in.int32();  // a follower broker's id, or -1 for consumers
  const std::int32_t max_wait = in.int32();
  const std::int32_t min_bytes = in.int32();
  std::size_t budget = options_.fetch_max_bytes;  // v0-2 have no response limit of their own
  if (version >= 3) budget = std::min(budget, static_cast<std::size_t>(std::max(0, in.int32())));
  if (version >= 4) (void)in.int8();  // isolation_level: there are no transactions to hide
  std::string body = response_body();
  wire_writer w(body);
  if (version >= 1) w.int32(0);
  std::size_t total = 0;
  bool errors = false;
  for_each_partition(in, &w, 16, [&](const std::string& name, std::int32_t p) {
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
    if (e == error_code::none && cap > 0) {
      e = replica >= 0 ? append_follower_batch(body, name, p, replica, cap, now_ms)
                       : append_batch(body, name, p, offset, cap);
    }
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

error_code service::append_follower_batch(std::string& body, const std::string& topic, std::int32_t p,
                                          std::int32_t follower, std::size_t cap, std::int64_t now_ms) {
  auto records = core_.follower_fetch(topic, p, follower, follower_fetch_records, now_ms);
  if (!records) return records.error();
  batch_writer batch(body);
  for (const auto& r : *records) {
    batch.add(r);
    if (batch.size() >= cap) break;
  }
  batch.finish();
  return error_code::none;
}

void service::replicated(std::int32_t follower, const std::string& topic, std::int32_t p,
                         std::vector<broker::kafka::record> records, std::int64_t now_ms) {
  core_.follower_append(topic, p, follower, std::move(records), now_ms);
  if (!parked_.empty()) wake_fetches(now_ms);
  if (!parked_produces_.empty()) wake_produces(now_ms);
}

std::vector<std::pair<broker::kafka::topic_partition, std::int64_t>> service::follower_positions(
    std::int32_t follower, std::int32_t leader) const {
  std::vector<std::pair<broker::kafka::topic_partition, std::int64_t>> out;
  for (const auto& topic : core_.topic_names()) {
    for (std::int32_t p = 0; p < core_.partitions(topic); ++p) {
      const auto& ps = core_.partition(topic, p);
      if (ps.leader != leader || !ps.logs.contains(follower) || follower == leader) continue;
      out.push_back({{topic, p}, ps.logs.at(follower).log_end_offset()});
    }
  }
  return out;
}

bool service::may_be_enough(parked_fetch& f) const {
  wire_reader in(f.request);
  if (in.int32() >= 0) return true;  // a follower's: it takes uncommitted records, and asks for any
  (void)in.int32();
  const std::int32_t min_bytes = in.int32();
  if (min_bytes <= 1) return true;  // any record answers it: the first try that finds one is the last
  if (f.version >= 3) (void)in.int32();
  if (f.version >= 4) (void)in.int8();
  bool moved = false;
  std::size_t i = 0;
  for_each_partition(in, nullptr, 16, [&](const std::string& name, std::int32_t p) {
    const std::int64_t offset = in.int64();
    (void)in.int32();
    if (i == f.counted_to.size()) f.counted_to.push_back(offset);
    std::int64_t& from = f.counted_to[i++];
    const auto seen = core_.fetch_visit(name, p, from, std::numeric_limits<std::size_t>::max(), [&](const broker::kafka::record& r) {
      // Never more than a response would carry for it, so that "enough" here is enough there.
      f.counted += r.key.size() + r.value.size() + least_record_framing;
      from = r.offset + 1;
    });
    moved = moved || !seen;  // an error (a leader gone) is an answer
  });
  return moved || f.counted >= static_cast<std::size_t>(min_bytes);
}

void service::wake_fetches(std::int64_t now_ms) {
  std::erase_if(parked_, [&](parked_fetch& f) {
    const bool final = now_ms >= f.deadline_ms;
    if (!final && !may_be_enough(f)) return false;
    wire_reader in(f.request);
    auto body = fetch_response(in, f.version, f.node, final, now_ms);
    if (!body) return false;
    completions_.push_back({f.from, std::move(*body)});
    return true;
  });
}

}  // namespace mqlab::net::kafka
