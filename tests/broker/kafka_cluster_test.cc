// Kafka replication as the seed describes it ("Kafka集群中的保证"): leaders and followers, the
// ISR and high watermark, acks 0/1/all with min.insync.replicas, and what a broker failure
// costs under clean and unclean leader election.
#include "broker/kafka/cluster.h"

#include <gtest/gtest.h>

namespace mqlab::broker::kafka {
namespace {

std::vector<record> batch(int n, const std::string& prefix = "r") {
  std::vector<record> out;
  for (int i = 0; i < n; ++i) out.push_back(record{0, 0, std::nullopt, prefix + std::to_string(i), {}});
  return out;
}

topic_config rf3(std::int32_t min_isr = 1, bool unclean = false) {
  topic_config c;
  c.partitions = 1;
  c.replication_factor = 3;
  c.min_insync_replicas = min_isr;
  c.unclean_leader_election = unclean;
  return c;
}

TEST(kafka_cluster, replicas_spread_and_leaders_differ_per_partition) {
  cluster c(3);
  topic_config cfg = rf3();
  cfg.partitions = 3;
  ASSERT_EQ(c.create_topic("t", cfg), error_code::none);
  std::set<std::int32_t> leaders;
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(c.partition("t", p).replicas.size(), 3u);
    leaders.insert(c.partition("t", p).leader);
  }
  EXPECT_EQ(leaders.size(), 3u);
  EXPECT_EQ(c.create_topic("t", cfg), error_code::topic_already_exists);
  cfg.replication_factor = 4;
  EXPECT_EQ(c.create_topic("u", cfg), error_code::invalid_replication_factor);
}

TEST(kafka_cluster, consumers_see_only_records_below_the_high_watermark) {
  cluster c(3);
  c.create_topic("t", rf3());
  ASSERT_EQ(c.produce("t", 0, batch(5), acks::leader, 0).error, error_code::none);
  EXPECT_TRUE(c.fetch("t", 0, 0, 100).records.empty());  // not yet on the followers
  c.replicate(10);
  EXPECT_EQ(c.fetch("t", 0, 0, 100).records.size(), 5u);
  std::vector<std::int64_t> offsets;
  EXPECT_EQ(c.fetch_visit("t", 0, 2, 100, [&](const record& r) { offsets.push_back(r.offset); }).value(), 3u);
  EXPECT_EQ(offsets, (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_GT(c.inter_broker_bytes(), 0u);
}

TEST(kafka_cluster, acks_all_with_min_insync_2_survives_one_failure_and_refuses_after_two) {
  cluster c(3);
  c.create_topic("t", rf3(2));
  EXPECT_EQ(c.produce("t", 0, batch(3), acks::all, 0).error, error_code::none);
  EXPECT_EQ(c.fetch("t", 0, 0, 100).records.size(), 3u);  // committed at once
  const auto leader = c.partition("t", 0).leader;
  const auto follower = c.partition("t", 0).replicas[1];
  c.crash_broker(follower, 1);
  EXPECT_EQ(c.produce("t", 0, batch(3), acks::all, 2).error, error_code::none);
  c.crash_broker(c.partition("t", 0).replicas[2], 3);
  EXPECT_EQ(c.produce("t", 0, batch(1), acks::all, 4).error, error_code::not_enough_replicas);
  EXPECT_EQ(c.produce("t", 0, batch(1), acks::leader, 4).error, error_code::none);  // acks=1 still goes
  EXPECT_EQ(c.partition("t", 0).leader, leader);
}

TEST(kafka_cluster, clean_failover_loses_no_acks_all_record) {
  cluster c(3);
  c.create_topic("t", rf3(2));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c.produce("t", 0, batch(10), acks::all, i).error, error_code::none);
  const auto old_leader = c.partition("t", 0).leader;
  c.crash_broker(old_leader, 20);
  EXPECT_NE(c.partition("t", 0).leader, old_leader);
  EXPECT_EQ(c.lost_records(), 0u);
  EXPECT_EQ(c.fetch("t", 0, 0, 1000).records.size(), 100u);
}

TEST(kafka_cluster, acks_1_records_not_yet_replicated_are_lost_when_the_leader_dies) {
  cluster c(3);
  c.create_topic("t", rf3());
  c.produce("t", 0, batch(10), acks::leader, 0);
  c.replicate(1);  // 10 replicated
  c.produce("t", 0, batch(5), acks::leader, 2);  // 5 acknowledged by the leader only
  c.crash_broker(c.partition("t", 0).leader, 3);
  EXPECT_EQ(c.lost_records(), 5u);
  EXPECT_EQ(c.log_end_offset("t", 0), 10);
}

TEST(kafka_cluster, unclean_election_trades_availability_for_data) {
  for (bool unclean : {false, true}) {
    cluster c(3, 1000);
    c.create_topic("t", rf3(1, unclean));
    c.produce("t", 0, batch(10), acks::all, 0);
    const auto leader = c.partition("t", 0).leader;
    const auto lagging = c.partition("t", 0).replicas[2];
    c.crash_broker(lagging, 1);                        // this replica falls behind...
    c.produce("t", 0, batch(10), acks::all, 2);        // ...while 10 more are committed
    c.crash_broker(c.partition("t", 0).replicas[1], 3);
    c.restart_broker(lagging, 4);                      // back, but out of sync (not in the ISR)
    c.crash_broker(leader, 5001);                      // the last in-sync replica dies before it catches up
    if (!unclean) {
      EXPECT_EQ(c.partition("t", 0).leader, -1) << "clean: the partition stays offline";
      EXPECT_EQ(c.produce("t", 0, batch(1), acks::leader, 5002).error, error_code::leader_not_available);
      EXPECT_EQ(c.lost_records(), 0u);
    } else {
      EXPECT_EQ(c.partition("t", 0).leader, lagging) << "unclean: the lagging replica leads";
      EXPECT_EQ(c.lost_records(), 10u);
      EXPECT_EQ(c.produce("t", 0, batch(1), acks::leader, 5002).error, error_code::none);
    }
  }
}

TEST(kafka_cluster, replication_factor_n_survives_n_minus_1_failures) {
  cluster c(3);
  c.create_topic("t", rf3());
  c.produce("t", 0, batch(7), acks::all, 0);
  c.crash_broker(0, 1);
  c.crash_broker(1, 2);
  EXPECT_EQ(c.partition("t", 0).leader, 2);
  EXPECT_EQ(c.fetch("t", 0, 0, 100).records.size(), 7u);
}

TEST(kafka_cluster, a_returning_former_leader_truncates_what_was_never_committed) {
  cluster c(3);
  c.create_topic("t", rf3());
  c.produce("t", 0, batch(4), acks::all, 0);
  const auto old_leader = c.partition("t", 0).leader;
  c.produce("t", 0, batch(3), acks::leader, 1);  // 3 only on the leader
  c.crash_broker(old_leader, 2);
  c.produce("t", 0, batch(2, "new"), acks::all, 3);
  c.restart_broker(old_leader, 4);
  EXPECT_EQ(c.truncated_records(), 3u);
  c.replicate(5);
  // The former leader now holds exactly the new leader's log.
  const auto& logs = c.partition("t", 0).logs;
  EXPECT_EQ(logs.at(old_leader).log_end_offset(), logs.at(c.partition("t", 0).leader).log_end_offset());
  EXPECT_EQ(*logs.at(old_leader).read(4, 10)->front().value, "new0");
}

// A follower copies the leader's records at the leader's offsets, whatever happened to the
// leader's log while the follower was away.
std::vector<std::int64_t> offsets_on(const cluster& c, std::int32_t broker) {
  std::vector<std::int64_t> out;
  const auto& log = c.partition("t", 0).logs.at(broker);
  const auto records = log.read(log.log_start_offset(), SIZE_MAX);  // a range-for over *read() would dangle
  for (const auto& r : *records) out.push_back(r.offset);
  return out;
}

TEST(kafka_cluster, a_follower_copies_a_compacted_log_with_its_gaps) {
  cluster c(2);
  topic_config cfg;
  cfg.replication_factor = 2;
  cfg.log.segment_bytes = 60;
  cfg.log.compact = true;
  c.create_topic("t", cfg);
  const std::int32_t follower = c.partition("t", 0).replicas[1];
  c.crash_broker(follower, 0);
  for (int i = 0; i < 12; ++i) {
    c.produce("t", 0, record{0, 0, "k" + std::to_string(i % 3), "v" + std::to_string(i), {}}, acks::leader, 1);
  }
  c.clean(2);  // the leader keeps the newest of k0, k1, k2 in its closed segments
  c.restart_broker(follower, 3);
  c.replicate(4);
  const auto leader = offsets_on(c, c.partition("t", 0).leader);
  ASSERT_LT(leader.size(), 12u) << "compaction left gaps";
  EXPECT_EQ(offsets_on(c, follower), leader);
  EXPECT_TRUE(c.partition("t", 0).isr.contains(follower));
}

TEST(kafka_cluster, a_follower_behind_the_leaders_log_start_starts_over_there) {
  cluster c(2);
  topic_config cfg;
  cfg.replication_factor = 2;
  cfg.log.segment_bytes = 100;
  cfg.log.retention_bytes = 200;
  c.create_topic("t", cfg);
  const std::int32_t follower = c.partition("t", 0).replicas[1];
  c.produce("t", 0, batch(2), acks::all, 0);
  c.crash_broker(follower, 1);
  c.produce("t", 0, batch(40), acks::leader, 2);
  c.clean(3);  // retention removes the leader's oldest segments, past the follower's log end
  const auto& leader_log = c.partition("t", 0).logs.at(c.partition("t", 0).leader);
  ASSERT_GT(leader_log.log_start_offset(), 2);
  c.restart_broker(follower, 4);
  c.replicate(5);
  const auto& follower_log = c.partition("t", 0).logs.at(follower);
  EXPECT_EQ(follower_log.log_start_offset(), leader_log.log_start_offset());
  EXPECT_EQ(offsets_on(c, follower), offsets_on(c, c.partition("t", 0).leader));
}

}  // namespace
}  // namespace mqlab::broker::kafka

namespace mqlab::broker::kafka {
namespace {

// Replication driven by the followers' own fetches, as when they fetch over the network: the
// leader serves them uncommitted records, their fetch positions move the high watermark, and an
// acks=all record counts as acknowledged only once the caller says the producer was told.
TEST(kafka_cluster_follower_fetching, followers_fetches_move_the_high_watermark) {
  cluster c(3);
  c.set_follower_fetching(true);
  ASSERT_EQ(c.create_topic("t", rf3(2), 1000), error_code::none);
  ASSERT_EQ(c.produce("t", 0, batch(3), acks::all, 1000).error, error_code::none);
  EXPECT_EQ(c.partition("t", 0).high_watermark, 0) << "acks=all no longer copies by itself";
  auto lacking = c.follower_fetch("t", 0, 1, 100, 1001);
  ASSERT_TRUE(lacking);
  ASSERT_EQ(lacking->size(), 3u) << "followers get uncommitted records";
  EXPECT_EQ(lacking->begin()->offset, 0);
  c.follower_append("t", 0, 1, *lacking, 1002);
  EXPECT_EQ(c.partition("t", 0).high_watermark, 0) << "broker 2 is in the ISR and has nothing yet";
  c.follower_append("t", 0, 2, *c.follower_fetch("t", 0, 2, 100, 1003), 1003);
  EXPECT_EQ(c.partition("t", 0).high_watermark, 3);
  EXPECT_EQ(c.follower_fetch("t", 0, 0, 100, 1004).error(), error_code::not_leader_or_follower) << "0 leads";
}

TEST(kafka_cluster_follower_fetching, a_follower_that_stops_fetching_leaves_the_isr_and_one_that_fetches_stays) {
  cluster c(3, 30'000);
  c.set_follower_fetching(true);
  ASSERT_EQ(c.create_topic("t", rf3(1), 0), error_code::none);
  for (std::int64_t t = 10'000; t <= 40'000; t += 10'000) {
    (void)c.follower_fetch("t", 0, 1, 100, t);  // caught up (nothing to copy): still in sync
    c.expire_lagging(t);
  }
  EXPECT_EQ(c.partition("t", 0).isr, (std::set<std::int32_t>{0, 1})) << "broker 2 never fetched for 40 s";
}

TEST(kafka_cluster_follower_fetching, unacknowledged_acks_all_records_are_not_counted_lost) {
  cluster c(3);
  c.set_follower_fetching(true);
  ASSERT_EQ(c.create_topic("t", rf3(2), 0), error_code::none);
  ASSERT_EQ(c.produce("t", 0, batch(2), acks::all, 1).error, error_code::none);
  c.follower_append("t", 0, 1, *c.follower_fetch("t", 0, 1, 100, 2), 2);
  c.follower_append("t", 0, 2, *c.follower_fetch("t", 0, 2, 100, 2), 2);
  c.acknowledge("t", 0, 2);  // the producer heard back about these two
  ASSERT_EQ(c.produce("t", 0, batch(3, "late"), acks::all, 3).error, error_code::none);
  c.crash_broker(0, 4);  // the three late ones never reached a follower, and nobody was told
  EXPECT_EQ(c.lost_records(), 0u);
  EXPECT_EQ(c.vanished_records(), 3u);
  EXPECT_EQ(c.partition("t", 0).high_watermark, 2);
}

TEST(kafka_cluster_coordination, brokers_register_and_the_controller_moves_on_failure) {
  cluster c(3);
  topic_config cfg;
  cfg.partitions = 2;
  cfg.replication_factor = 3;
  c.create_topic("orders", cfg);
  auto& zk = c.coordination();
  EXPECT_EQ(zk.children("/brokers/ids").value(), (std::vector<std::string>{"0", "1", "2"}));
  const auto controller = c.controller();
  ASSERT_GE(controller, 0);
  c.crash_broker(controller, 1);
  EXPECT_EQ(zk.children("/brokers/ids")->size(), 2u);  // the ephemeral registration went with the session
  EXPECT_NE(c.controller(), controller);
  EXPECT_GE(c.controller(), 0);
  // Partition state as the controller wrote it.
  const auto& ps = c.partition("orders", 0);
  const auto state = zk.get("/brokers/topics/orders/partitions/0/state")->first;
  EXPECT_NE(state.find("leader=" + std::to_string(ps.leader)), std::string::npos) << state;
  c.restart_broker(controller, 2);
  EXPECT_EQ(zk.children("/brokers/ids")->size(), 3u);
}

}  // namespace
}  // namespace mqlab::broker::kafka

namespace mqlab::broker::kafka {
namespace {

double charged(const work_meter& m, work_kind k, std::uint32_t broker) {
  double sum = 0;
  for (const auto& row : m.rows()) {
    if (row.site.node == node_id{broker}) sum += row[k];
  }
  return sum;
}

// A fetch's answer carries records the leader encodes one by one, for a consumer or a
// follower; a follower also takes each in before appending it.
TEST(kafka_cluster_memory, fetched_records_cost_the_leader_and_copied_ones_the_follower) {
  cluster c(3);
  c.set_follower_fetching(true);
  ASSERT_EQ(c.create_topic("t", rf3(1), 0), error_code::none);
  ASSERT_EQ(c.partition("t", 0).leader, 0);
  c.meter().enable(true);
  ASSERT_EQ(c.produce("t", 0, batch(5), acks::leader, 1).error, error_code::none);
  c.meter().clear();
  c.follower_append("t", 0, 1, *c.follower_fetch("t", 0, 1, 100, 2), 2);
  EXPECT_EQ(charged(c.meter(), work_kind::fetch, 0), 1);
  EXPECT_EQ(charged(c.meter(), work_kind::record_fetched, 0), 5);
  EXPECT_EQ(charged(c.meter(), work_kind::record_replicated, 1), 5);
  EXPECT_EQ(charged(c.meter(), work_kind::record_appended, 1), 5);
  EXPECT_EQ(charged(c.meter(), work_kind::record_replicated, 0), 0) << "the leader took nothing in";
  c.follower_append("t", 0, 2, *c.follower_fetch("t", 0, 2, 100, 3), 3);  // the high watermark moves
  c.meter().clear();
  ASSERT_EQ(c.fetch_visit("t", 0, 1, 3, [](const record&) {}).value_or(0), 3u);
  EXPECT_EQ(charged(c.meter(), work_kind::record_fetched, 0), 3);
  EXPECT_EQ(charged(c.meter(), work_kind::record_replicated, 1) + charged(c.meter(), work_kind::record_replicated, 2), 0);
}

// A broker keeps its log in memory (the page cache, for Kafka): each byte it holds beyond the
// most it ever held is fresh memory the operating system maps in, while what retention freed is
// taken again first.
TEST(kafka_cluster_memory, each_replica_pays_for_its_log_growing_past_its_peak_and_not_for_what_retention_freed) {
  cluster c(3);
  c.set_follower_fetching(true);
  c.meter().enable(true);
  topic_config config = rf3(2);
  config.log.segment_bytes = 10'000;
  config.log.retention_bytes = 20'000;
  ASSERT_EQ(c.create_topic("t", config, 0), error_code::none);
  auto copy_to_followers = [&](std::int64_t now) {
    for (std::int32_t f : {1, 2}) c.follower_append("t", 0, f, *c.follower_fetch("t", 0, f, 10'000, now), now);
  };
  // 100 records of 24 + 98 bytes: each takes its bytes and the rest of a record struct in memory.
  const auto hundred = [] {
    std::vector<record> out;
    for (int i = 0; i < 100; ++i) out.push_back(record{0, 0, std::nullopt, std::string(98, 'v'), {}});
    return out;
  };
  const double per_record = 24 + 98 + (sizeof(record) - 24);
  ASSERT_EQ(c.produce("t", 0, hundred(), acks::all, 1).error, error_code::none);
  copy_to_followers(2);
  for (std::uint32_t b = 0; b < 3; ++b) EXPECT_DOUBLE_EQ(charged(c.meter(), work_kind::memory_grown, b), 100 * per_record) << "broker " << b;
  c.meter().clear();

  // Grow to about 40 kB, let retention cut each log back under 20 kB, then write as much again:
  // only what goes past the old peak is new.
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c.produce("t", 0, hundred(), acks::all, 3).error, error_code::none);
  copy_to_followers(4);
  const double peak = 300 * per_record;
  EXPECT_DOUBLE_EQ(charged(c.meter(), work_kind::memory_grown, 0), 200 * per_record);
  c.clean(5);
  const std::int64_t kept = c.partition("t", 0).logs.at(0).log_end_offset() - c.partition("t", 0).logs.at(0).log_start_offset();
  ASSERT_LT(kept, 300) << "retention deleted closed segments";
  c.meter().clear();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c.produce("t", 0, hundred(), acks::all, 6).error, error_code::none);
  copy_to_followers(7);
  const double after = (static_cast<double>(kept) + 200) * per_record;
  ASSERT_GT(after, peak);
  for (std::uint32_t b = 0; b < 3; ++b) EXPECT_DOUBLE_EQ(charged(c.meter(), work_kind::memory_grown, b), after - peak) << "broker " << b;
}

}  // namespace
}  // namespace mqlab::broker::kafka
