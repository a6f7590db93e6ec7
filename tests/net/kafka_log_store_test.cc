// Kafka's logs on disk, checked the way a restart sees them: a fresh core restored from the
// files holds the same topics with their configs, the same records at the same offsets (null
// and empty kept apart), the same high watermark and the groups' committed offsets; a follower
// that truncated on return (KIP-101) is restored truncated; retention deletes segment files; a
// torn tail loses only the batch being written; files of another cluster size are refused.
#include "net/kafka/log_store.h"

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace mqlab::net::kafka
