// Kafka's logs on disk, checked the way a restart sees them: a fresh core restored from the
// files holds the same topics with their configs, the same records at the same offsets (null
// and empty kept apart), the same high watermark and the groups' committed offsets; a follower
// that truncated on return (KIP-101) is restored truncated; retention deletes segment files; a
// torn tail loses only the batch being written; files of another cluster size are refused.
#include "net/kafka/log_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "net/byte_order.h"
#include "net/kafka/record_batch.h"
#include "net/kafka/segment_index.h"
#include "net/kafka/service.h"

#include "tests/net/temp_dir.h"

namespace mqlab::net::kafka {
namespace {

namespace fs = std::filesystem;
using broker::kafka::acks;
using broker::kafka::error_code;
using broker::kafka::record;
using broker::kafka::topic_config;

/// One broker process: a core, its service and the store on `dir`.
struct process {
  process(const fs::path& dir, std::int32_t brokers = 1)
      : core(brokers), svc(core), flush(storage::fsync_policy{storage::fsync_policy::kind::never, {}}, [](auto f) { f(); }) {
    auto opened = log_store::open({.dir = dir, .brokers = brokers}, svc, flush, 1'000, recovered);
    if (opened) store = std::move(*opened);
    else error = opened.error();
  }
  void persist() { ASSERT_TRUE(store->persist()); }
  std::vector<record> read(const std::string& topic, std::int32_t p, std::int32_t replica) const {
    std::vector<record> out;
    const auto& log = core.partition(topic, p).logs.at(replica);
    (void)log.visit(log.log_start_offset(), SIZE_MAX, INT64_MAX, [&](const record& r) { out.push_back(r); });
    return out;
  }
  broker::kafka::cluster core;
  service svc;
  storage::flusher flush;
  log_recovery recovered;
  std::unique_ptr<log_store> store;
  std::string error;
};

using testing::temp_dir;

std::size_t files_ending(const fs::path& dir, std::string_view suffix) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n += entry.path().string().ends_with(suffix);
  return n;
}

record keyed(std::optional<std::string> key, std::optional<std::string> value, std::int64_t ts) {
  record r;
  r.key = key;
  r.value = value;
  r.timestamp_ms = ts;
  return r;
}

TEST(kafka_log_store, a_restarted_broker_has_its_topics_records_watermark_and_committed_offsets) {
  temp_dir d;
  {
    process before(d.path);
    ASSERT_TRUE(before.store) << before.error;
    topic_config orders{.partitions = 2};
    orders.log.retention_ms = 3'600'000;
    ASSERT_EQ(before.core.create_topic("orders", orders), error_code::none);
    for (int i = 0; i < 100; ++i) {
      (void)before.core.produce("orders", i % 2, keyed(fmt::format("k{}", i), fmt::format("order {}", i), 1'000 + i), acks::all, 2'000);
    }
    record odd = keyed(std::nullopt, std::string(), 5'000);  // no key, an empty (not null) value
    odd.headers = {{"trace", std::nullopt}, {"empty", std::string()}};
    (void)before.core.produce("orders", 0, std::move(odd), acks::leader, 5'000);
    (void)before.core.produce("orders", 1, keyed("gone", std::nullopt, 6'000), acks::leader, 6'000);  // a tombstone
    before.persist();
    ASSERT_TRUE(before.store->committed("billing", {"orders", 0}, 42));
    ASSERT_TRUE(before.store->committed("billing", {"orders", 0}, 43));  // the newest commit wins
  }
  process after(d.path);
  ASSERT_TRUE(after.store) << after.error;
  EXPECT_EQ(after.recovered.topics, 1u);
  EXPECT_EQ(after.recovered.records, 102u);
  ASSERT_TRUE(after.core.has_topic("orders"));
  EXPECT_EQ(after.core.partitions("orders"), 2);
  EXPECT_EQ(after.core.config("orders").log.retention_ms, 3'600'000);
  const auto p0 = after.read("orders", 0, 0), p1 = after.read("orders", 1, 0);
  ASSERT_EQ(p0.size(), 51u);
  ASSERT_EQ(p1.size(), 51u);
  EXPECT_EQ(p0[7].offset, 7);
  EXPECT_EQ(p0[7].key.view(), "k14");
  EXPECT_EQ(p0[7].value.view(), "order 14");
  EXPECT_EQ(p0[7].timestamp_ms, 1'014);
  EXPECT_FALSE(p0[50].key.has_value());
  ASSERT_TRUE(p0[50].value.has_value());
  EXPECT_EQ(p0[50].value.view(), "");
  ASSERT_EQ(p0[50].headers.size(), 2u);
  EXPECT_FALSE(p0[50].headers[0].second.has_value());
  EXPECT_EQ(p0[50].headers[1].second, std::optional<std::string>(""));
  EXPECT_FALSE(p1[50].value.has_value()) << "a tombstone stays a tombstone";
  EXPECT_EQ(after.core.partition("orders", 0).high_watermark, 51);
  EXPECT_EQ(after.core.fetch("orders", 1, 0, 1000).records.size(), 51u) << "consumers see all of it";
  const auto* billing = after.svc.group("billing");
  ASSERT_NE(billing, nullptr);
  EXPECT_EQ(billing->committed({"orders", 0}), 43);
  // New records continue the offsets, and are kept too.
  EXPECT_EQ(after.core.produce("orders", 0, keyed("k", "v", 7'000), acks::all, 7'000).base_offset, 51);
}

TEST(kafka_log_store, a_follower_that_truncated_on_return_is_restored_truncated) {
  temp_dir d;
  std::vector<record> leader_records;
  {
    process p(d.path, 2);
    ASSERT_TRUE(p.store) << p.error;
    topic_config t{.partitions = 1, .replication_factor = 2, .unclean_leader_election = true};
    ASSERT_EQ(p.core.create_topic("t", t), error_code::none);
    for (int i = 0; i < 5; ++i) (void)p.core.produce("t", 0, keyed(std::nullopt, fmt::format("a{}", i), 1), acks::all, 1);
    for (int i = 0; i < 3; ++i) (void)p.core.produce("t", 0, keyed(std::nullopt, fmt::format("b{}", i), 2), acks::leader, 2);
    p.persist();  // broker 0 leads with 8 records; broker 1 has the 5 acks=all ones
    p.core.crash_broker(0, 3);
    p.core.restart_broker(0, 4);  // nothing happens to 0's log until 1 leads and 0 returns...
    p.core.crash_broker(0, 5);
    ASSERT_EQ(p.core.partition("t", 0).leader, 1);
    for (int i = 0; i < 2; ++i) (void)p.core.produce("t", 0, keyed(std::nullopt, fmt::format("c{}", i), 6), acks::leader, 6);
    p.persist();
    p.core.restart_broker(0, 7);  // KIP-101: 0 drops b0..b2, which the new leader never had
    p.core.replicate(8);
    p.persist();
    leader_records = p.read("t", 0, 1);
    ASSERT_EQ(p.read("t", 0, 0).size(), 7u);
  }
  process after(d.path, 2);
  ASSERT_TRUE(after.store) << after.error;
  for (std::int32_t replica : {0, 1}) {
    const auto restored = after.read("t", 0, replica);
    ASSERT_EQ(restored.size(), leader_records.size()) << "replica " << replica;
    for (std::size_t i = 0; i < restored.size(); ++i) {
      EXPECT_EQ(restored[i].offset, leader_records[i].offset);
      EXPECT_EQ(restored[i].value.view(), leader_records[i].value.view());
    }
  }
  EXPECT_EQ(after.read("t", 0, 0)[5].value.view(), "c0");
  EXPECT_EQ(after.recovered.indexes_rebuilt, 0u) << "the indexes followed the truncation as it was written";
}

TEST(kafka_log_store, retention_deletes_segment_files_and_the_log_start_survives_a_restart) {
  temp_dir d;
  std::int64_t start = 0;
  std::uint64_t bytes_before = 0;
  {
    process p(d.path);
    ASSERT_TRUE(p.store) << p.error;
    topic_config t{.partitions = 1};
    t.log.segment_bytes = 4'000;
    t.log.retention_bytes = 8'000;
    ASSERT_EQ(p.core.create_topic("t", t), error_code::none);
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 50; ++i) (void)p.core.produce("t", 0, keyed(std::nullopt, std::string(100, 'v'), 1), acks::leader, 1);
      p.persist();
    }
    bytes_before = p.store->bytes();
    p.core.clean(10);
    p.persist();
    start = p.core.partition("t", 0).logs.at(0).log_start_offset();
    ASSERT_GT(start, 0);
  }
  process after(d.path);
  ASSERT_TRUE(after.store) << after.error;
  EXPECT_EQ(after.core.partition("t", 0).logs.at(0).log_start_offset(), start);
  EXPECT_EQ(after.core.log_end_offset("t", 0), 1000);
  EXPECT_LT(after.store->bytes(), bytes_before) << "whole segment files below the log start are deleted";
  EXPECT_EQ(files_ending(d.path / "broker-0" / "t-0", ".index"), files_ending(d.path / "broker-0" / "t-0", ".seg"))
      << "a deleted segment's indexes go with it";
  EXPECT_EQ(after.recovered.indexes_rebuilt, 0u);
}

TEST(kafka_log_store, a_torn_tail_loses_only_the_batch_being_written) {
  temp_dir d;
  {
    process p(d.path);
    ASSERT_EQ(p.core.create_topic("t", {.partitions = 1}), error_code::none);
    (void)p.core.produce("t", 0, keyed(std::nullopt, "kept", 1), acks::leader, 1);
    p.persist();
    (void)p.core.produce("t", 0, keyed(std::nullopt, "torn", 2), acks::leader, 2);
    p.persist();
  }
  const fs::path segment = d.path / "broker-0" / "t-0" / "00000000000000000000.seg";
  fs::resize_file(segment, fs::file_size(segment) - 3);
  process after(d.path);
  ASSERT_TRUE(after.store) << after.error;
  EXPECT_GT(after.recovered.torn_bytes, 0u);
  EXPECT_TRUE(after.recovered.corruption.empty());
  const auto records = after.read("t", 0, 0);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value.view(), "kept");
  EXPECT_EQ(after.core.produce("t", 0, keyed(std::nullopt, "next", 3), acks::leader, 3).base_offset, 1);
}

TEST(kafka_log_store, offset_commits_are_compacted_into_snapshots) {
  temp_dir d;
  {
    process p(d.path);
    ASSERT_EQ(p.core.create_topic("t", {.partitions = 1}), error_code::none);
    p.persist();
    for (int i = 1; i <= 200'000; ++i) ASSERT_TRUE(p.store->committed("g", {"t", 0}, i));
  }
  std::uint64_t offsets_bytes = 0;
  for (const auto& e : fs::directory_iterator(d.path / "offsets")) offsets_bytes += fs::file_size(e.path());
  EXPECT_LT(offsets_bytes, 2 * log_store_options{}.segment_bytes) << "200 000 commits of one offset stay small";
  process after(d.path);
  EXPECT_EQ(after.svc.group("g")->committed({"t", 0}), 200'000);
}

TEST(kafka_log_store, log_flush_interval_messages_fsyncs_a_partition_every_n_records) {
  temp_dir d;
  broker::kafka::cluster core(1);
  service svc(core);
  storage::flusher never(storage::fsync_policy{storage::fsync_policy::kind::never, {}}, [](auto f) { f(); });
  log_recovery recovered;
  auto store = log_store::open({.dir = d.path, .flush_interval_messages = 10}, svc, never, 0, recovered);
  ASSERT_TRUE(store);
  ASSERT_EQ(core.create_topic("a", {.partitions = 1}), error_code::none);
  ASSERT_EQ(core.create_topic("b", {.partitions = 1}), error_code::none);
  for (int i = 0; i < 25; ++i) {
    (void)core.produce("a", 0, keyed(std::nullopt, "x", 1), acks::leader, 1);
    ASSERT_TRUE((*store)->persist());
  }
  EXPECT_EQ((*store)->count_flushes(), 2u) << "after the 10th and the 20th record";
  (void)core.produce("b", 0, std::vector<record>(9, keyed(std::nullopt, "y", 1)), acks::leader, 1);
  ASSERT_TRUE((*store)->persist());
  EXPECT_EQ((*store)->count_flushes(), 2u) << "each partition counts its own";
  (void)core.produce("b", 0, keyed(std::nullopt, "y", 1), acks::leader, 1);
  ASSERT_TRUE((*store)->persist());
  EXPECT_EQ((*store)->count_flushes(), 3u);
}

TEST(kafka_log_store, files_of_another_cluster_size_are_refused) {
  temp_dir d;
  { process p(d.path, 3); }
  process other(d.path, 1);
  ASSERT_FALSE(other.store);
  EXPECT_NE(other.error.find("holds the logs of 3 Kafka brokers, not 1"), std::string::npos) << other.error;
}


namespace index_check {

/// A batch as a segment file holds it, decoded without the store's help.
struct stored_batch {
  std::uint64_t position = 0, bytes = 0;
  std::vector<record> records;
};

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<stored_batch> batches_of(const fs::path& segment) {
  const std::string bytes = contents(segment);
  std::vector<stored_batch> out;
  for (std::size_t at = 0; at + 8 <= bytes.size();) {
    const auto length = load_be<std::uint32_t>(bytes.data() + at);
    const std::string_view payload(bytes.data() + at + 8, length);
    if (payload[0] == 'B') out.push_back({at, 8 + length, decode_record_set(payload.substr(1), 0).value()});
    at += 8 + length;
  }
  return out;
}

/// Clicks with timestamps that mostly rise but sometimes step back, one batch per persist, in
/// segments of 64 KiB.
void write_clicks(const fs::path& dir, int count) {
  process p(dir);
  ASSERT_TRUE(p.store) << p.error;
  topic_config t{.partitions = 1};
  t.log.segment_bytes = 64 << 10;
  ASSERT_EQ(p.core.create_topic("clicks", t), error_code::none);
  for (int i = 0; i < count; ++i) {
    const std::int64_t ts = 1'000'000 + 10 * i - (i % 7 == 3 ? 500 : 0);
    (void)p.core.produce("clicks", 0, keyed(fmt::format("user-{}", i % 13), std::string(80 + i % 40, 'c'), ts), acks::leader, ts);
    p.persist();
  }
}

std::vector<fs::path> segments_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace index_check

TEST(kafka_log_store, each_segment_has_kafkas_sparse_offset_and_time_indexes) {
  using namespace index_check;
  temp_dir d;
  write_clicks(d.path, 3'000);
  const auto segments = segments_in(d.path / "broker-0" / "clicks-0");
  ASSERT_GE(segments.size(), 4u);
  for (const fs::path& segment : segments) {
    SCOPED_TRACE(segment.filename().string());
    const std::int64_t base = std::stoll(segment.stem().string());
    const auto batches = batches_of(segment);
    std::map<std::uint64_t, const stored_batch*> at;
    for (const auto& b : batches) at[b.position] = &b;
    fs::path index_path = segment, time_path = segment;
    const std::string offsets = contents(index_path.replace_extension(".index"));
    const std::string times = contents(time_path.replace_extension(".timeindex"));
    ASSERT_EQ(offsets.size() % 8, 0u);
    ASSERT_EQ(times.size() % 12, 0u);
    ASSERT_GT(offsets.size(), 0u);
    // [i32 relative offset][i32 position]: the batch there ends at that offset; entries lie
    // more than index.interval.bytes (4096) apart and not much more.
    std::uint64_t previous = 0;
    for (std::size_t e = 0; e < offsets.size(); e += 8) {
      const std::int64_t offset = base + load_be<std::int32_t>(offsets.data() + e);
      const std::uint64_t position = load_be<std::uint32_t>(offsets.data() + e + 4);
      ASSERT_TRUE(at.contains(position)) << "entry " << e / 8 << " points between batches";
      EXPECT_EQ(at[position]->records.back().offset, offset);
      if (e > 0) {
        EXPECT_GT(position - previous, 4096u);
        EXPECT_LT(position - previous, 4096u + 2 * 300u);
      }
      previous = position;
    }
    // [i64 timestamp][i32 relative offset]: the newest time of the records up to that offset,
    // rising from entry to entry.
    std::int64_t last_time = -1;
    for (std::size_t e = 0; e < times.size(); e += 12) {
      const std::int64_t ts = load_be<std::int64_t>(times.data() + e);
      const std::int64_t offset = base + load_be<std::int32_t>(times.data() + e + 8);
      std::int64_t newest = -1;
      for (const auto& b : batches) {
        for (const auto& r : b.records) {
          if (r.offset <= offset) newest = std::max(newest, r.timestamp_ms);
        }
      }
      EXPECT_EQ(ts, newest) << "time entry " << e / 12;
      EXPECT_GT(ts, last_time);
      last_time = ts;
    }
    // Lookups land on or before what they look for, a few kilobytes from it at most.
    const auto index = segment_index::parse(base, offsets, times).value();
    for (const auto& b : batches) {
      const std::int64_t wanted = b.records.front().offset;
      const std::uint64_t from = index.position_of(wanted);
      ASSERT_TRUE(at.contains(from));
      EXPECT_LE(at[from]->records.front().offset, wanted);
      EXPECT_LE(b.position - from, 4096u + 2 * 300u);
      const std::int64_t ts = b.records.front().timestamp_ms;
      const std::int64_t start = index.offset_for_time(ts);
      for (const auto& earlier : batches) {
        for (const auto& r : earlier.records) {
          if (r.offset >= start) continue;
          EXPECT_LT(r.timestamp_ms, ts) << "a record stamped " << ts << " lies before " << start;
        }
      }
    }
  }
}

TEST(kafka_log_store, missing_or_damaged_indexes_are_rebuilt_on_restart) {
  using namespace index_check;
  temp_dir d;
  write_clicks(d.path, 1'500);
  const fs::path dir = d.path / "broker-0" / "clicks-0";
  const auto segments = segments_in(dir);
  ASSERT_GE(segments.size(), 2u);
  fs::path first_index = segments[0], first_times = segments[0], last_index = segments.back();
  first_index.replace_extension(".index");
  first_times.replace_extension(".timeindex");
  last_index.replace_extension(".index");
  const std::string index_before = contents(first_index), times_before = contents(first_times),
                    last_before = contents(last_index);
  fs::remove(first_index);
  fs::resize_file(first_times, times_before.size() - 5);
  { std::ofstream(last_index, std::ios::app) << "garbage!"; }
  { std::ofstream(dir / "00000000000099999999.index") << "an index whose segment is gone"; }
  {
    process after(d.path);
    ASSERT_TRUE(after.store) << after.error;
    EXPECT_EQ(after.recovered.indexes_rebuilt, 2u) << "the first segment's and the active one's";
    EXPECT_EQ(contents(first_index), index_before);
    EXPECT_EQ(contents(first_times), times_before);
    EXPECT_EQ(contents(last_index), last_before);
    EXPECT_FALSE(fs::exists(dir / "00000000000099999999.index"));
    EXPECT_EQ(after.read("clicks", 0, 0).size(), 1'500u);
    for (int i = 0; i < 500; ++i) {
      (void)after.core.produce("clicks", 0, keyed(std::nullopt, std::string(100, 'n'), 2'000'000 + i), acks::leader, 2'000'000);
      after.persist();
    }
  }
  process again(d.path);
  ASSERT_TRUE(again.store) << again.error;
  EXPECT_EQ(again.recovered.indexes_rebuilt, 0u) << "what the restarted store appended is indexed as recovery indexes it";
}

}  // namespace
}  // namespace mqlab::net::kafka
