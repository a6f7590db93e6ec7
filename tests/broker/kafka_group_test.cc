// Consumer groups as the seed tells them: a partition goes to one consumer of a group, extra
// consumers idle, every group gets every record, and committing offset N means everything
// before N is done.
#include "broker/kafka/group.h"

#include <algorithm>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "broker/kafka/client.h"
#include "broker/kafka/cluster.h"

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

// The coordinator seen through in-process consumers, which speak JoinGroup/SyncGroup to it
// as the Java client does over the wire.
class coordinated_group : public ::testing::Test {
 protected:
  coordinated_group() {
    topic_config cfg;
    cfg.partitions = 4;
    c.create_topic("orders", cfg);
  }
  consumer& add(const std::string& group, assignor_kind kind = assignor_kind::range, bool auto_commit = true) {
    members.push_back(std::make_unique<consumer>(c, std::vector<std::string>{"orders"},
                                                 consumer_config{.group = group, .assignor = kind, .auto_commit = auto_commit}));
    group_of.push_back(group);
    return *members.back();
  }
  /// Everyone polls a few rounds at `now`: enough for every join and sync to come back.
  void settle(std::int64_t now) {
    for (int round = 0; round < 3; ++round) {
      for (auto& m : members) (void)m->poll(now);
    }
  }
  cluster c{1};
  std::vector<std::unique_ptr<consumer>> members;
  std::vector<std::string> group_of;
};

TEST_F(coordinated_group, two_groups_each_get_every_partition) {
  add("billing");
  add("billing");
  add("shipping");
  add("shipping");
  settle(0);
  for (const std::string group : {"billing", "shipping"}) {
    std::set<topic_partition> all;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (group_of[i] != group) continue;
      EXPECT_TRUE(members[i]->in_group());
      for (const auto& tp : members[i]->assignment()) EXPECT_TRUE(all.insert(tp).second) << "shared within " << group;
    }
    EXPECT_EQ(all.size(), 4u) << group;
  }
}

TEST_F(coordinated_group, a_newcomer_makes_the_others_rejoin_and_a_join_waits_for_them) {
  consumer& a = add("g");
  settle(0);
  ASSERT_TRUE(a.in_group());
  EXPECT_EQ(a.assignment().size(), 4u);
  const std::int32_t first = c.groups().find("g")->generation();
  consumer& b = add("g");
  EXPECT_TRUE(b.poll(10).value().empty());  // its join waits for a, which does not know yet
  EXPECT_FALSE(b.in_group());
  EXPECT_EQ(a.heartbeat(20), error_code::rebalance_in_progress);
  settle(30);
  EXPECT_TRUE(a.in_group());
  EXPECT_TRUE(b.in_group());
  EXPECT_EQ(c.groups().find("g")->generation(), first + 1);
  EXPECT_EQ(a.assignment().size() + b.assignment().size(), 4u);
  EXPECT_EQ(a.assignment().size(), 2u);
}

TEST_F(coordinated_group, a_dead_consumer_times_out_and_only_its_partitions_move) {
  consumer& a = add("g", assignor_kind::cooperative_sticky);
  consumer& b = add("g", assignor_kind::cooperative_sticky);
  settle(0);
  const auto kept = a.assignment();
  ASSERT_EQ(kept.size(), 2u);
  // b goes silent at 0; a keeps polling (and so heartbeating) until b's session expires.
  for (std::int64_t t = 1'000; t <= 10'000; t += 1'000) {
    (void)a.poll(t);
    c.groups().advance(t);
  }
  EXPECT_EQ(c.groups().find("g")->member_ids(), std::vector<std::string>{a.member_id()});
  (void)a.poll(11'000);
  (void)a.poll(11'000);
  ASSERT_EQ(a.assignment().size(), 4u);
  for (const auto& tp : kept) EXPECT_TRUE(std::ranges::find(a.assignment(), tp) != a.assignment().end());
  (void)b;
}

TEST_F(coordinated_group, committing_an_offset_means_everything_before_it_is_done) {
  // The seed: acknowledging message 2 implies message 1 — a commit is a position, not a set.
  producer p(c, "orders");
  for (int i = 0; i < 5; ++i) p.send(std::nullopt, std::to_string(i), 0, 0);  // all to partition 0
  consumer& first = add("g", assignor_kind::range, false);
  settle(0);
  EXPECT_EQ(first.commit({"orders", 0}, 3), error_code::none);  // done: 0, 1, 2
  EXPECT_EQ(c.groups().find("g")->committed({"orders", 0}), 3);
  // A consumer restarting in the group resumes from 3: records 0-2 are never seen again.
  first.close(1);
  consumer& again = add("g", assignor_kind::range, false);
  std::vector<std::int64_t> seen;
  for (int round = 0; round < 3; ++round) {
    const auto polled = again.poll(2);  // a range-for over poll().value() would dangle
    for (const auto& [tp, r] : polled.value()) seen.push_back(r.offset);
  }
  EXPECT_EQ(seen, (std::vector<std::int64_t>{3, 4}));
}

TEST(group_coordinator, replies_that_waited_go_to_the_request_that_asked) {
  group_coordinator gc;
  consumer_group& g = gc.group("g");
  const auto join = [&](const std::string& id) {
    join_request r{.tag = gc.next_tag(), .member_id = id, .protocol_type = "consumer", .protocols = {{"range", ""}}};
    g.join(r, 0);
    return r.tag;
  };
  const auto a = join("");
  const auto a_reply = std::get<join_reply>(gc.take_reply(a).value());
  g.sync(gc.next_tag(), a_reply.generation, a_reply.member_id, {}, 0);
  const auto b = join("");               // b's join waits for a to rejoin
  EXPECT_FALSE(gc.take_reply(b).has_value());
  const auto a_again = join(a_reply.member_id);
  EXPECT_TRUE(gc.take_reply(a_again).has_value());
  EXPECT_TRUE(gc.take_reply(b).has_value());
  EXPECT_FALSE(gc.take_reply(b).has_value());  // taken once
}

TEST(consumer_protocol, subscription_and_assignment_bytes_are_kafkas) {
  // ConsumerProtocolSubscription v1 for topic "t" owning t-2: version 1, [1 topic "t"],
  // user data null (-1), [1 owned topic "t" with partitions [2]].
  const std::string sub = encode_subscription({"", {"t"}, {{"t", 2}}});
  EXPECT_EQ(sub, std::string("\x00\x01" "\x00\x00\x00\x01" "\x00\x01t" "\xff\xff\xff\xff"
                             "\x00\x00\x00\x01" "\x00\x01t" "\x00\x00\x00\x01" "\x00\x00\x00\x02", 28));
  const auto back = decode_subscription(sub).value();
  EXPECT_EQ(back.topics, std::vector<std::string>{"t"});
  EXPECT_EQ(back.owned, (std::vector<topic_partition>{{"t", 2}}));
  // A v0 subscription (no owned partitions) from an older client reads too.
  EXPECT_EQ(decode_subscription(std::string("\x00\x00\x00\x00\x00\x01\x00\x01t\xff\xff\xff\xff", 13))->topics,
            std::vector<std::string>{"t"});
  const std::vector<topic_partition> mine{{"a", 0}, {"a", 3}, {"b", 1}};
  EXPECT_EQ(decode_assignment(encode_assignment(mine)), mine);
  // Truncated or lying bytes are refused, not read past their end.
  EXPECT_FALSE(decode_subscription(sub.substr(0, 5)).has_value());
  EXPECT_FALSE(decode_assignment(std::string("\x00\x00\x7f\xff\xff\xff", 6)).has_value());
}

}  // namespace
}  // namespace mqlab::broker::kafka
