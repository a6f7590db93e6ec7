// The partition log: offsets, retention regardless of consumption, compaction, timestamps.
#include "broker/kafka/log.h"

#include <gtest/gtest.h>

namespace mqlab::broker::kafka {
namespace {

record rec(std::int64_t ts, std::optional<std::string> key, std::optional<std::string> value) {
  return record{0, ts, std::move(key), std::move(value), {}};
}

TEST(partition_log, offsets_count_up_and_reads_start_anywhere) {
  partition_log log;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(log.append(rec(i, std::nullopt, "v" + std::to_string(i))), i);
  EXPECT_EQ(log.log_end_offset(), 5);
  auto r = log.read(2, 10);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].offset, 2);
  EXPECT_EQ(*(*r)[0].value, "v2");
  EXPECT_TRUE(log.read(5, 10)->empty());  // at the end: nothing yet, not an error
  EXPECT_EQ(log.read(6, 10).error(), error_code::offset_out_of_range);
  EXPECT_EQ(log.read(1, 10, 3)->size(), 2u);  // the high watermark limits what is visible
}

TEST(partition_log, retention_by_time_deletes_unconsumed_records) {
  // Kafka keeps records for retention.ms whether or not anyone read them.
  log_config cfg;
  cfg.segment_bytes = 200;  // a few records per segment
  cfg.retention_ms = 1000;
  partition_log log(cfg);
  for (int i = 0; i < 30; ++i) log.append(rec(i * 100, std::nullopt, std::string(40, 'x')));
  const auto removed = log.apply_retention(3000);  // records older than 2000 ms may go
  EXPECT_GT(removed, 0u);
  EXPECT_GT(log.log_start_offset(), 0);
  EXPECT_LE(log.log_start_offset(), 20);
  // A consumer that was still at offset 0 has fallen off the log.
  EXPECT_EQ(log.read(0, 10).error(), error_code::offset_out_of_range);
  EXPECT_TRUE(log.read(log.log_start_offset(), 10).has_value());
}

TEST(partition_log, retention_by_size_keeps_the_newest) {
  log_config cfg;
  cfg.segment_bytes = 200;
  cfg.retention_bytes = 600;
  partition_log log(cfg);
  for (int i = 0; i < 50; ++i) log.append(rec(i, std::nullopt, std::string(40, 'x')));
  log.apply_retention(0);
  EXPECT_LE(log.size_bytes(), 600u + 200u);  // within one segment of the limit
  EXPECT_EQ(log.log_end_offset(), 50);
}

TEST(partition_log, compaction_keeps_the_latest_value_per_key_and_drops_tombstones) {
  log_config cfg;
  cfg.segment_bytes = 100;
  cfg.compact = true;
  partition_log log(cfg);
  log.append(rec(1, "a", "1"));
  log.append(rec(2, "b", "1"));
  log.append(rec(3, "a", "2"));
  log.append(rec(4, "b", std::nullopt));  // delete b
  log.append(rec(5, "c", "1"));
  for (int i = 0; i < 5; ++i) log.append(rec(10 + i, "filler" + std::to_string(i), "x"));
  log.compact();
  auto all = log.read(log.log_start_offset(), 100).value();
  std::map<std::string, std::string> seen;
  for (const auto& r : all) {
    ASSERT_TRUE(r.key.has_value());
    const std::string key(*r.key);
    EXPECT_FALSE(seen.contains(key)) << "duplicate key " << key;
    if (r.value) seen[key] = *r.value;
  }
  EXPECT_EQ(seen.at("a"), "2");
  EXPECT_FALSE(seen.contains("b"));
  EXPECT_EQ(seen.at("c"), "1");
  EXPECT_EQ(log.log_end_offset(), 10);  // offsets are never reused
}

TEST(partition_log, offset_for_timestamp_and_truncation) {
  partition_log log;
  for (int i = 0; i < 10; ++i) log.append(rec(i * 10, std::nullopt, "v"));
  EXPECT_EQ(log.offset_for_timestamp(35), 4);
  EXPECT_EQ(log.offset_for_timestamp(1000), 10);
  log.truncate_to(6);
  EXPECT_EQ(log.log_end_offset(), 6);
  EXPECT_EQ(log.append(rec(99, std::nullopt, "new")), 6);
}

std::vector<std::string> values(const partition_log& log) {
  std::vector<std::string> out;
  const auto records = log.read(log.log_start_offset(), SIZE_MAX);  // a range-for over *read() would dangle
  for (const auto& r : *records) out.emplace_back(*r.value);
  return out;
}

// Replicas share records; what one replica writes or drops never shows in another's log.
TEST(partition_log, replicas_that_share_records_stay_independent) {
  partition_log leader, follower;
  for (int i = 0; i < 3; ++i) leader.append(rec(i, std::nullopt, "a" + std::to_string(i)));
  EXPECT_EQ(follower.replicate_from(leader), 3 * (24 + 2u)) << "the bytes a follower fetches";
  EXPECT_EQ(values(follower), (std::vector<std::string>{"a0", "a1", "a2"}));

  follower.append(rec(9, std::nullopt, "f3"));  // the follower, elected, writes on
  leader.append(rec(9, std::nullopt, "l3"));    // the old leader, cut off, writes too
  EXPECT_EQ(values(leader), (std::vector<std::string>{"a0", "a1", "a2", "l3"}));
  EXPECT_EQ(values(follower), (std::vector<std::string>{"a0", "a1", "a2", "f3"}));

  leader.truncate_to(3);  // the old leader returns as a follower of the new one
  EXPECT_EQ(leader.replicate_from(follower), 24 + 2u);
  EXPECT_EQ(values(leader), values(follower));
  follower.truncate_to(1);
  EXPECT_EQ(values(leader), (std::vector<std::string>{"a0", "a1", "a2", "f3"})) << "untouched by the other's truncation";
  EXPECT_EQ(values(follower), (std::vector<std::string>{"a0"}));
}

// A follower's fetch in-process: what the leader had when the fetch was served, by reference,
// whatever the leader writes before the answer arrives; a fetch answered twice adds nothing.
TEST(partition_log, a_shared_fetch_is_what_the_leader_had_when_it_was_served) {
  partition_log leader, follower;
  for (int i = 0; i < 3; ++i) leader.append(rec(i, std::nullopt, "a" + std::to_string(i)));
  const auto fetched = leader.share(1, 10).value();
  EXPECT_EQ(fetched.size(), 2u);
  EXPECT_EQ(fetched.bytes(), 2 * (24 + 2u));
  EXPECT_EQ(std::next(fetched.begin())->offset, 2);
  leader.append(rec(9, std::nullopt, "a3"));  // while the answer is on its way

  follower.restart_at(1);
  EXPECT_EQ(follower.append_shared(fetched), 2 * (24 + 2u));
  EXPECT_EQ(values(follower), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(follower.log_end_offset(), 3) << "a3 was not in the fetch";
  EXPECT_EQ(follower.append_shared(fetched), 0u) << "a stale answer";
  follower.append(rec(9, std::nullopt, "f3"));  // the follower, elected, writes on
  EXPECT_EQ(values(leader), (std::vector<std::string>{"a0", "a1", "a2", "a3"})) << "the leader's block is its own";
  EXPECT_EQ(values(follower), (std::vector<std::string>{"a1", "a2", "f3"}));
  EXPECT_EQ(leader.share(5, 1).error(), error_code::offset_out_of_range);
}

// Fetches that span the leader's blocks (1 024 records each) and segments, answered in pieces
// of odd sizes: the follower ends with the leader's records, in order, each once.
TEST(partition_log, shared_fetches_across_blocks_and_segments_copy_the_log_exactly) {
  log_config cfg;
  cfg.segment_bytes = 30'000;  // about 1 000 records a segment
  partition_log leader(cfg), follower(cfg);
  for (int i = 0; i < 5'000; ++i) leader.append(rec(i, std::nullopt, std::to_string(i)));
  std::int64_t expected = 0;
  while (follower.log_end_offset() < leader.log_end_offset()) {
    const auto fetched = leader.share(follower.log_end_offset(), 777).value();
    for (const record& r : fetched) EXPECT_EQ(r.offset, expected++);
    follower.append_shared(fetched);
  }
  EXPECT_EQ(expected, 5'000);
  EXPECT_EQ(values(follower), values(leader));
  EXPECT_EQ(follower.size_bytes(), leader.size_bytes());
}

TEST(partition_log, reads_find_every_offset_across_segments_and_shared_blocks) {
  log_config cfg;
  cfg.segment_bytes = 30'000;  // about 1 000 records a segment
  partition_log leader(cfg), follower(cfg);
  for (int i = 0; i < 5'000; ++i) {
    leader.append(rec(i, std::nullopt, std::to_string(i)));
    if (i == 2'345) follower.replicate_from(leader);  // catches up twice, at an odd place
  }
  follower.replicate_from(leader);
  for (const partition_log* log : {&leader, &follower}) {
    ASSERT_EQ(log->log_end_offset(), 5'000);
    for (std::int64_t at : {0, 1, 1'023, 1'024, 2'345, 2'346, 4'999}) {
      const auto got = log->read(at, 2).value();
      ASSERT_FALSE(got.empty());
      EXPECT_EQ(got[0].offset, at);
      EXPECT_EQ(*got[0].value, std::to_string(at));
    }
    EXPECT_EQ(log->read(0, SIZE_MAX)->size(), 5'000u);
  }
}

}  // namespace
}  // namespace mqlab::broker::kafka
