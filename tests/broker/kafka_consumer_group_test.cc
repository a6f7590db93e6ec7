// The JoinGroup/SyncGroup protocol real Kafka clients speak, checked against Kafka's
// documented coordinator behaviour: a join is a barrier for every known member, only the
// leader sees the subscriptions, followers wait for the leader's assignment, old generations
// and unknown members are refused, and a member that stops heartbeating is dropped.
#include "broker/kafka/consumer_group.h"

#include <gtest/gtest.h>

namespace mqlab::broker::kafka {
namespace {

join_request joiner(std::uint64_t tag, std::string member = "", std::vector<std::string> assignors = {"range"}) {
  join_request r{.tag = tag, .member_id = std::move(member), .client_id = "rdkafka", .session_timeout_ms = 10'000,
                 .rebalance_timeout_ms = 30'000, .protocol_type = "consumer", .protocols = {}};
  for (auto& a : assignors) r.protocols.push_back({a, "subscription:orders"});
  return r;
}

template <typename Reply>
std::vector<Reply> replies_of(consumer_group& g) {
  std::vector<Reply> out;
  for (auto& r : g.take_replies()) out.push_back(std::get<Reply>(r));
  return out;
}

// One member alone: joins, leads, assigns itself everything. Returns its id.
std::string lone_member(consumer_group& g) {
  g.join(joiner(1), 0);
  const auto joined = replies_of<join_reply>(g);
  g.sync(2, joined.at(0).generation, joined.at(0).member_id, {{joined.at(0).member_id, "orders:0,1"}}, 0);
  (void)g.take_replies();
  return joined.at(0).member_id;
}

TEST(consumer_group, a_lone_member_leads_and_gets_the_assignment_it_wrote) {
  consumer_group g;
  g.join(joiner(1), 0);
  auto joined = replies_of<join_reply>(g);
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0].error, error_code::none);
  EXPECT_EQ(joined[0].generation, 1);
  EXPECT_EQ(joined[0].leader, joined[0].member_id);
  EXPECT_EQ(joined[0].protocol, "range");
  ASSERT_EQ(joined[0].members.size(), 1u);
  EXPECT_EQ(joined[0].members[0].second, "subscription:orders");
  g.sync(2, 1, joined[0].member_id, {{joined[0].member_id, "orders:0,1"}}, 0);
  auto synced = replies_of<sync_reply>(g);
  ASSERT_EQ(synced.size(), 1u);
  EXPECT_EQ(synced[0].assignment, "orders:0,1");
  EXPECT_EQ(g.current_state(), consumer_group::state::stable);
  EXPECT_EQ(g.heartbeat(joined[0].member_id, 1, 100), error_code::none);
}

TEST(consumer_group, a_newcomer_waits_until_every_member_rejoins_and_only_the_leader_sees_subscriptions) {
  consumer_group g;
  const std::string first = lone_member(g);
  g.join(joiner(3), 100);
  EXPECT_TRUE(g.take_replies().empty()) << "the join is a barrier";
  EXPECT_EQ(g.heartbeat(first, 1, 150), error_code::rebalance_in_progress) << "tells the old member to rejoin";
  g.join(joiner(4, first), 200);
  auto joined = replies_of<join_reply>(g);
  ASSERT_EQ(joined.size(), 2u);
  for (const auto& j : joined) EXPECT_EQ(j.generation, 2);
  const auto& leader = joined[0].member_id == joined[0].leader ? joined[0] : joined[1];
  const auto& follower = joined[0].member_id == joined[0].leader ? joined[1] : joined[0];
  EXPECT_EQ(leader.members.size(), 2u);
  EXPECT_TRUE(follower.members.empty());

  g.sync(5, 2, follower.member_id, {}, 250);
  EXPECT_TRUE(g.take_replies().empty()) << "a follower waits for the leader's assignment";
  g.sync(6, 2, leader.member_id, {{leader.member_id, "orders:0"}, {follower.member_id, "orders:1"}}, 260);
  auto synced = replies_of<sync_reply>(g);
  ASSERT_EQ(synced.size(), 2u);
  for (const auto& s : synced) EXPECT_EQ(s.assignment, s.tag == 5 ? "orders:1" : "orders:0");
}

TEST(consumer_group, an_unchanged_follower_rejoining_gets_its_generation_back_without_a_rebalance) {
  consumer_group g;
  const std::string first = lone_member(g);
  g.join(joiner(3), 0);
  g.join(joiner(4, first), 0);
  auto joined = replies_of<join_reply>(g);
  const auto& follower = joined[0].member_id == joined[0].leader ? joined[1] : joined[0];
  g.sync(5, 2, joined[0].leader, {}, 0);
  (void)g.take_replies();
  g.join(joiner(6, follower.member_id), 10);
  auto again = replies_of<join_reply>(g);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].generation, 2);
  EXPECT_EQ(g.current_state(), consumer_group::state::stable);
}

TEST(consumer_group, old_generations_and_unknown_members_are_refused) {
  consumer_group g;
  const std::string first = lone_member(g);
  EXPECT_EQ(g.heartbeat(first, 0, 10), error_code::illegal_generation);
  EXPECT_EQ(g.heartbeat("nobody", 1, 10), error_code::unknown_member_id);
  EXPECT_EQ(g.commit(first, 0, {"orders", 0}, 5), error_code::illegal_generation);
  EXPECT_EQ(g.commit("nobody", 1, {"orders", 0}, 5), error_code::unknown_member_id);
  EXPECT_EQ(g.commit(first, 1, {"orders", 0}, 5), error_code::none);
  EXPECT_EQ(g.committed({"orders", 0}), 5);
  g.join(joiner(7, "nobody"), 10);
  EXPECT_EQ(replies_of<join_reply>(g).at(0).error, error_code::unknown_member_id);
  g.sync(8, 0, first, {}, 10);
  EXPECT_EQ(replies_of<sync_reply>(g).at(0).error, error_code::illegal_generation);
}

TEST(consumer_group, commits_are_refused_only_while_the_assignment_is_handed_out) {
  consumer_group g;
  const std::string first = lone_member(g);
  g.join(joiner(3), 0);
  EXPECT_EQ(g.commit(first, 1, {"orders", 0}, 7), error_code::none) << "revoking members commit before rejoining";
  g.join(joiner(4, first), 0);
  (void)g.take_replies();
  EXPECT_EQ(g.current_state(), consumer_group::state::completing_rebalance);
  EXPECT_EQ(g.commit(first, 2, {"orders", 0}, 8), error_code::rebalance_in_progress);
  EXPECT_EQ(g.committed({"orders", 0}), 7);
}

TEST(consumer_group, a_silent_member_is_dropped_after_its_session_timeout_and_the_rest_rebalance) {
  consumer_group g;
  const std::string first = lone_member(g);
  g.join(joiner(3), 0);
  g.join(joiner(4, first), 0);
  auto joined = replies_of<join_reply>(g);
  g.sync(5, 2, joined[0].leader, {}, 0);
  (void)g.take_replies();
  const std::string other = joined[0].member_id == first ? joined[1].member_id : joined[0].member_id;
  EXPECT_EQ(g.next_deadline(), 10'000);
  EXPECT_EQ(g.heartbeat(first, 2, 9'000), error_code::none);
  g.advance(10'000);  // `other` has been silent for its whole session
  EXPECT_EQ(g.member_ids(), std::vector<std::string>{first});
  EXPECT_EQ(g.heartbeat(first, 2, 10'001), error_code::rebalance_in_progress);
  EXPECT_EQ(g.heartbeat(other, 2, 10'001), error_code::unknown_member_id);
}

TEST(consumer_group, the_rebalance_timeout_completes_the_join_without_members_that_never_rejoined) {
  consumer_group g;
  const std::string first = lone_member(g);
  g.join(joiner(3), 1'000);
  for (std::int64_t t = 2'000; t < 31'000; t += 2'000) EXPECT_EQ(g.heartbeat(first, 1, t), error_code::rebalance_in_progress);
  EXPECT_EQ(g.next_deadline(), 31'000);  // the largest rebalance timeout among the members
  g.advance(31'000);
  auto joined = replies_of<join_reply>(g);
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_NE(joined[0].member_id, first);
  EXPECT_EQ(joined[0].leader, joined[0].member_id);
  EXPECT_EQ(g.member_ids(), std::vector<std::string>{joined[0].member_id});
}

TEST(consumer_group, leaving_rebalances_the_rest_and_the_last_one_out_empties_the_group) {
  consumer_group g;
  const std::string first = lone_member(g);
  EXPECT_EQ(g.leave(first, 10), error_code::none);
  EXPECT_EQ(g.current_state(), consumer_group::state::empty);
  EXPECT_EQ(g.leave(first, 10), error_code::unknown_member_id);
  EXPECT_EQ(g.commit("", -1, {"orders", 1}, 42), error_code::none) << "standalone consumers commit to an empty group";
  EXPECT_EQ(g.committed({"orders", 1}), 42);
}

TEST(consumer_group, the_protocol_is_one_every_member_supports) {
  consumer_group g;
  g.join(joiner(1, "", {"range", "roundrobin"}), 0);
  const auto first = replies_of<join_reply>(g).at(0);
  g.join(joiner(2, "", {"roundrobin"}), 0);
  g.join(joiner(3, first.member_id, {"range", "roundrobin"}), 0);
  for (const auto& j : replies_of<join_reply>(g)) EXPECT_EQ(j.protocol, "roundrobin");
  g.join(joiner(4, "", {"sticky"}), 0);
  EXPECT_EQ(replies_of<join_reply>(g).at(0).error, error_code::inconsistent_group_protocol);
}

TEST(consumer_group, session_timeouts_outside_the_brokers_bounds_are_refused) {
  consumer_group g(6'000, 300'000);
  auto r = joiner(1);
  r.session_timeout_ms = 1'000;
  g.join(r, 0);
  EXPECT_EQ(replies_of<join_reply>(g).at(0).error, error_code::invalid_session_timeout);
}

}  // namespace
}  // namespace mqlab::broker::kafka
