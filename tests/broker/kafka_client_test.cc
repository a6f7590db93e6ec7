// Producers and consumer groups end to end on the cluster model, read as the seed's Kafka
// notes: order per key, idle consumers, every group gets everything, rebalance on a dead
// consumer, commits, retention and resets, batching.
#include "broker/kafka/client.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace mqlab::broker::kafka {
namespace {

struct kafka_fixture : ::testing::Test {
  cluster c{3};
  void SetUp() override {
    topic_config cfg;
    cfg.partitions = 3;
    cfg.replication_factor = 2;
    ASSERT_EQ(c.create_topic("orders", cfg), error_code::none);
  }
  void produce_keyed(int per_key, int keys) {
    producer p(c, "orders", {acks::all});
    for (int i = 0; i < per_key; ++i) {
      for (int k = 0; k < keys; ++k) p.send("user-" + std::to_string(k), std::to_string(i), i);
    }
  }
  static consumer_config group(const std::string& name, assignor_kind a = assignor_kind::range) {
    consumer_config cfg;
    cfg.group = name;
    cfg.assignor = a;
    cfg.reset = offset_reset::earliest;
    cfg.auto_commit = false;
    return cfg;
  }
};

TEST_F(kafka_fixture, order_is_kept_per_key_across_a_group) {
  produce_keyed(50, 7);
  std::vector<std::unique_ptr<consumer>> group_members;
  for (int i = 0; i < 3; ++i) group_members.push_back(std::make_unique<consumer>(c, std::vector<std::string>{"orders"}, group("g")));
  std::map<std::string, std::vector<int>> seen;
  for (int round = 0; round < 10; ++round) {
    for (auto& m : group_members) {
      const auto polled = m->poll(round + 1);  // a range-for over poll().value() would dangle
      for (const auto& [tp, r] : polled.value()) seen[std::string(*r.key)].push_back(std::stoi(std::string(*r.value)));
      m->commit(round + 1);  // commitSync after processing, so a rebalance does not replay
    }
  }
  ASSERT_EQ(seen.size(), 7u);
  for (const auto& [key, values] : seen) {
    ASSERT_EQ(values.size(), 50u) << key;
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end())) << key << ": order violated";
  }
}

TEST_F(kafka_fixture, more_consumers_than_partitions_leaves_one_idle) {
  produce_keyed(10, 9);
  std::vector<std::unique_ptr<consumer>> members;
  for (int i = 0; i < 4; ++i) members.push_back(std::make_unique<consumer>(c, std::vector<std::string>{"orders"}, group("g")));
  int idle = 0, total = 0;
  for (int round = 0; round < 3; ++round) {
    for (auto& m : members) {
      total += static_cast<int>(m->poll(round).value().size());
      m->commit(round);
    }
  }
  for (auto& m : members) idle += m->assignment().empty();
  EXPECT_EQ(idle, 1);
  EXPECT_EQ(total, 90);
}

TEST_F(kafka_fixture, without_commits_a_rebalance_replays_records_at_least_once) {
  produce_keyed(10, 9);
  consumer first(c, {"orders"}, group("g"));
  const auto alone = first.poll(0).value().size();  // reads all 90, commits nothing
  consumer second(c, {"orders"}, group("g"));
  EXPECT_TRUE(second.poll(1).value().empty());  // its join waits for the first member to rejoin
  (void)first.poll(1);                           // which learns of the rebalance and rejoins
  std::size_t replayed = second.poll(2).value().size();  // takes over partitions from the start
  EXPECT_EQ(alone, 90u);
  EXPECT_GT(replayed, 0u);  // delivered twice: Kafka's at-least-once without commits
}

TEST_F(kafka_fixture, two_groups_both_get_every_record) {
  produce_keyed(10, 5);
  consumer billing(c, {"orders"}, group("billing"));
  consumer shipping(c, {"orders"}, group("shipping"));
  std::size_t a = 0, b = 0;
  for (int i = 0; i < 5; ++i) {
    a += billing.poll(i).value().size();
    b += shipping.poll(i).value().size();
  }
  EXPECT_EQ(a, 50u);
  EXPECT_EQ(b, 50u);
}

TEST_F(kafka_fixture, a_dead_consumer_is_rebalanced_away_and_its_records_still_arrive) {
  produce_keyed(20, 6);
  consumer alive(c, {"orders"}, group("g", assignor_kind::cooperative_sticky));
  consumer dying(c, {"orders"}, group("g", assignor_kind::cooperative_sticky));
  (void)alive.poll(0);
  (void)dying.poll(0);
  (void)alive.poll(0);  // rejoin after the second member's join
  const auto alive_before = alive.assignment().size();
  ASSERT_LT(alive_before, 3u);
  // The dying consumer stops polling; the survivor keeps heartbeating; the session expires.
  for (std::int64_t t = 1'000; t <= 12'000; t += 1'000) {
    (void)alive.poll(t);
    c.groups().advance(t);
  }
  (void)alive.poll(13'000);
  EXPECT_EQ(alive.assignment().size(), 3u);
  EXPECT_EQ(alive.total_lag(), 0);  // and it has read everything, the dead one's share included
}

TEST_F(kafka_fixture, committing_offset_2_means_records_0_and_1_are_done) {
  producer p(c, "orders");
  for (int i = 0; i < 5; ++i) p.send(std::nullopt, std::to_string(i), 0, 0);  // all to partition 0
  c.replicate(0);  // acks=1: committed (visible) once the follower has them
  {
    consumer first(c, {"orders"}, group("g"));
    auto got = first.poll(0).value();
    ASSERT_EQ(got.size(), 5u);
    // Only record 2 was processed, but committing its successor position skips 0 and 1 as well.
    EXPECT_EQ(first.commit({"orders", 0}, 3), error_code::none);
    first.close(0);
  }
  EXPECT_EQ(c.group_lag("g").at({"orders", 0}), 2);  // records 3 and 4 are not done yet
  consumer restarted(c, {"orders"}, group("g"));
  auto got = restarted.poll(1).value();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].second.offset, 3);
  restarted.commit(1);
  EXPECT_EQ(c.group_lag("g").at({"orders", 0}), 0);
}

TEST(kafka_retention, a_consumer_that_falls_behind_resets_or_fails) {
  cluster c(1);
  topic_config cfg;
  cfg.log.segment_bytes = 300;
  cfg.log.retention_ms = 1'000;
  c.create_topic("t", cfg);
  producer p(c, "t");
  for (int i = 0; i < 40; ++i) p.send(std::nullopt, std::string(50, 'x'), i * 100);
  consumer_config late;
  late.group = "slow";
  late.reset = offset_reset::earliest;
  late.auto_commit = false;
  consumer slow(c, {"t"}, late);
  slow.seek({"t", 0}, 0);
  (void)slow.poll(0);
  slow.seek({"t", 0}, 0);
  c.clean(5'000);  // retention deletes records nobody consumed
  const auto start = c.partition("t", 0).logs.at(0).log_start_offset();
  ASSERT_GT(start, 0);
  auto got = slow.poll(5'000).value();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().second.offset, start);  // earliest: jumped to the new log start
  late.group = "strict";
  late.reset = offset_reset::none;
  consumer strict(c, {"t"}, late);
  (void)strict.poll(5'000);
  strict.seek({"t", 0}, 0);
  EXPECT_EQ(strict.poll(5'001).error(), error_code::offset_out_of_range);
}

TEST(kafka_consumer, fetch_min_bytes_waits_for_data_or_for_fetch_max_wait) {
  cluster c(1);
  c.create_topic("t", {});
  consumer_config cfg;
  cfg.group = "g";
  cfg.reset = offset_reset::earliest;
  cfg.auto_commit = false;
  cfg.fetch_min_bytes = 1'000;
  cfg.fetch_max_wait_ms = 500;
  consumer patient(c, {"t"}, cfg);
  producer p(c, "t");
  p.send(std::nullopt, std::string(100, 'x'), 0);  // ~124 bytes: below fetch.min.bytes
  EXPECT_TRUE(patient.poll(0).value().empty());
  EXPECT_TRUE(patient.poll(400).value().empty());  // still waiting
  EXPECT_EQ(patient.poll(500).value().size(), 1u);  // fetch.max.wait.ms is up: take what there is
  for (int i = 0; i < 10; ++i) p.send(std::nullopt, std::string(100, 'x'), 600);  // ~1240 bytes
  EXPECT_EQ(patient.poll(600).value().size(), 10u);  // enough data: no waiting
}

TEST(kafka_producer, linger_and_batch_size_group_records_into_batches) {
  cluster c(1);
  c.create_topic("t", {});
  producer p(c, "t", {acks::leader, 1'000, 5});
  for (int i = 0; i < 30; ++i) p.send(std::nullopt, std::string(100, 'x'), 0);  // ~124 bytes each
  EXPECT_EQ(p.batches_sent(), 3u);         // every 9th record fills 1000 bytes
  EXPECT_EQ(p.next_deadline(), 5);         // the rest waits for linger.ms
  p.advance(5);
  EXPECT_EQ(p.batches_sent(), 4u);
  EXPECT_EQ(p.acknowledged(), 30u);
  EXPECT_EQ(c.log_end_offset("t", 0), 30);
}

TEST_F(kafka_fixture, seek_to_beginning_end_and_timestamp) {
  producer p(c, "orders");
  for (int i = 0; i < 10; ++i) p.send(std::nullopt, std::to_string(i), i * 1'000, 1);
  c.replicate(0);
  consumer reader(c, {"orders"}, group("r"));
  (void)reader.poll(0);
  reader.seek_to_end();
  EXPECT_TRUE(reader.poll(1).value().empty());
  reader.seek_to_timestamp(7'000);
  auto got = reader.poll(2).value();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(*got.front().second.value, "7");
  reader.seek_to_beginning();
  EXPECT_EQ(reader.poll(3).value().size(), 10u);
}

}  // namespace
}  // namespace mqlab::broker::kafka
