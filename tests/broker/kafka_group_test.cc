// Consumer groups as the seed tells them: a partition goes to one consumer of a group, extra
// consumers idle, every group gets every record, and committing offset N means everything
// before N is done.
#include "broker/kafka/group.h"

#include <gtest/gtest.h>

namespace mqlab::broker::kafka {
namespace {

std::vector<member_subscription> members(int n, const std::string& topic = "orders") {
  std::vector<member_subscription> out;
  for (int i = 0; i < n; ++i) out.push_back({"c" + std::to_string(i), {topic}});
  return out;
}

TEST(assignors, range_gives_consecutive_ranges_and_extras_to_the_first) {
  auto a = assign(assignor_kind::range, members(3), {{"orders", 7}});
  EXPECT_EQ(a["c0"], (std::vector<topic_partition>{{"orders", 0}, {"orders", 1}, {"orders", 2}}));
  EXPECT_EQ(a["c1"], (std::vector<topic_partition>{{"orders", 3}, {"orders", 4}}));
  EXPECT_EQ(a["c2"], (std::vector<topic_partition>{{"orders", 5}, {"orders", 6}}));
}

TEST(assignors, round_robin_interleaves) {
  auto a = assign(assignor_kind::round_robin, members(3), {{"orders", 7}});
  EXPECT_EQ(a["c0"], (std::vector<topic_partition>{{"orders", 0}, {"orders", 3}, {"orders", 6}}));
  EXPECT_EQ(a["c1"], (std::vector<topic_partition>{{"orders", 1}, {"orders", 4}}));
}

class every_assignor : public ::testing::TestWithParam<assignor_kind> {};

TEST_P(every_assignor, more_consumers_than_partitions_leaves_some_idle_and_no_partition_shared) {
  auto a = assign(GetParam(), members(5), {{"orders", 3}});
  int idle = 0;
  std::set<topic_partition> owned;
  for (const auto& [m, parts] : a) {
    idle += parts.empty();
    for (const auto& tp : parts) EXPECT_TRUE(owned.insert(tp).second) << "partition owned twice";
  }
  EXPECT_EQ(idle, 2);
  EXPECT_EQ(owned.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(all, every_assignor,
                         ::testing::Values(assignor_kind::range, assignor_kind::round_robin,
                                           assignor_kind::cooperative_sticky));

TEST(assignors, cooperative_sticky_moves_only_the_dead_consumers_partitions) {
  const std::map<std::string, std::int32_t> topics{{"orders", 12}};
  auto before = assign(assignor_kind::cooperative_sticky, members(4), topics);
  auto survivors = members(4);
  survivors.erase(survivors.begin() + 1);  // c1 dies
  auto after = assign(assignor_kind::cooperative_sticky, survivors, topics, before);
  const auto moved = moved_partitions(before, after);
  EXPECT_EQ(moved.size(), before["c1"].size());  // exactly c1's three partitions
  // Range, by contrast, reshuffles partitions that belonged to live consumers too.
  auto range_before = assign(assignor_kind::range, members(4), topics);
  auto range_after = assign(assignor_kind::range, survivors, topics);
  EXPECT_GT(moved_partitions(range_before, range_after).size(), moved.size());
}

TEST(group_coordinator, two_groups_each_get_every_partition) {
  group_coordinator gc;
  gc.set_partitions("orders", 4);
  for (const std::string group : {"billing", "shipping"}) {
    std::set<topic_partition> all;
    for (int i = 0; i < 2; ++i) {
      gc.join(group, "", {"orders"}, assignor_kind::range, 10'000, 0);
    }
    for (const auto& m : gc.members(group)) {
      for (const auto& tp : gc.assigned(group, m)) all.insert(tp);
    }
    EXPECT_EQ(all.size(), 4u) << group;
  }
}

TEST(group_coordinator, a_rebalance_bumps_the_generation_and_old_members_must_rejoin) {
  group_coordinator gc;
  gc.set_partitions("orders", 4);
  auto a = gc.join("g", "", {"orders"}, assignor_kind::range, 10'000, 0);
  EXPECT_EQ(a.generation, 1);
  EXPECT_EQ(a.assignment.size(), 4u);
  auto b = gc.join("g", "", {"orders"}, assignor_kind::range, 10'000, 0);
  EXPECT_EQ(b.generation, 2);
  EXPECT_EQ(gc.heartbeat("g", a.member_id, a.generation, 100), error_code::rebalance_in_progress);
  EXPECT_EQ(gc.commit("g", a.member_id, a.generation, {"orders", 0}, 5), error_code::illegal_generation);
  auto again = gc.join("g", a.member_id, {"orders"}, assignor_kind::range, 10'000, 100);  // rejoin
  EXPECT_EQ(again.generation, 2);
  EXPECT_EQ(again.assignment.size(), 2u);
  EXPECT_EQ(gc.heartbeat("g", a.member_id, again.generation, 100), error_code::none);
}

TEST(group_coordinator, a_dead_consumer_times_out_and_its_partitions_move) {
  group_coordinator gc;
  gc.set_partitions("orders", 4);
  auto a = gc.join("g", "", {"orders"}, assignor_kind::cooperative_sticky, 10'000, 0);
  auto b = gc.join("g", "", {"orders"}, assignor_kind::cooperative_sticky, 10'000, 0);
  gc.heartbeat("g", a.member_id, 2, 9'000);  // a is alive, b went silent at 0
  EXPECT_EQ(gc.next_deadline(), 10'000);
  const auto expired = gc.advance(10'000);
  ASSERT_EQ(expired, std::vector<std::string>{b.member_id});
  EXPECT_EQ(gc.assigned("g", a.member_id).size(), 4u);
  EXPECT_EQ(gc.last_moved("g").size(), 2u);  // only b's two partitions moved
}

TEST(group_coordinator, committing_an_offset_means_everything_before_it_is_done) {
  // The seed: acknowledging message 2 implies message 1 — a commit is a position, not a set.
  group_coordinator gc;
  gc.set_partitions("orders", 1);
  auto c = gc.join("g", "", {"orders"}, assignor_kind::range, 10'000, 0);
  EXPECT_EQ(gc.commit("g", c.member_id, c.generation, {"orders", 0}, 3), error_code::none);  // done: 0, 1, 2
  EXPECT_EQ(gc.committed("g", {"orders", 0}), 3);
  // A consumer restarting in the group resumes from 3: records 0-2 are never seen again,
  // even if record 1 had not really been processed.
  gc.leave("g", c.member_id);
  auto d = gc.join("g", "", {"orders"}, assignor_kind::range, 10'000, 0);
  EXPECT_EQ(gc.committed("g", {"orders", 0}), 3);
  EXPECT_EQ(gc.commit("g", "ghost", d.generation, {"orders", 0}, 9), error_code::unknown_member_id);
}

}  // namespace
}  // namespace mqlab::broker::kafka
