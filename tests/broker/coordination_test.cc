// The coordination store with ZooKeeper's semantics, and the recipes the seed's ZooKeeper part
// relies on: a distributed lock, leader election and a queue.
#include "broker/coordination/store.h"

#include <gtest/gtest.h>

namespace mqlab::broker::coordination {
namespace {

TEST(coordination, nodes_have_versions_and_conditional_updates) {
  store zk;
  const auto s = zk.open_session(10'000, 0);
  ASSERT_EQ(zk.create(s, "/config", "v1", create_mode::persistent).value(), "/config");
  EXPECT_EQ(zk.create(s, "/config", "again", create_mode::persistent).error(), zk_error::node_exists);
  EXPECT_EQ(zk.create(s, "/missing/child", "", create_mode::persistent).error(), zk_error::no_node);
  EXPECT_EQ(zk.set("/config", "v2", 0)->version, 1);
  EXPECT_EQ(zk.set("/config", "v3", 0).error(), zk_error::bad_version);  // someone else changed it
  EXPECT_EQ(zk.get("/config")->first, "v2");
  ASSERT_TRUE(zk.create(s, "/config/a", "", create_mode::persistent).has_value());
  EXPECT_EQ(zk.remove("/config"), zk_error::not_empty);
  EXPECT_EQ(zk.remove("/config/a", 7), zk_error::bad_version);
  EXPECT_EQ(zk.remove("/config/a"), zk_error::ok);
  EXPECT_EQ(zk.remove("/config"), zk_error::ok);
}

TEST(coordination, ephemeral_nodes_vanish_with_their_session) {
  store zk;
  const auto s = zk.open_session(3'000, 0);
  ASSERT_TRUE(zk.create(s, "/brokers", "", create_mode::persistent).has_value());
  ASSERT_TRUE(zk.create(s, "/brokers/1", "host:9092", create_mode::ephemeral).has_value());
  EXPECT_EQ(zk.create(s, "/brokers/1/x", "", create_mode::persistent).error(), zk_error::no_children_for_ephemerals);
  zk.touch(s, 2'000);
  zk.advance(4'000);  // heard from at 2 s, timeout 3 s: still alive
  EXPECT_TRUE(zk.exists("/brokers/1").has_value());
  zk.advance(5'000);
  EXPECT_FALSE(zk.session_alive(s));
  EXPECT_EQ(zk.exists("/brokers/1").error(), zk_error::no_node);
  EXPECT_TRUE(zk.exists("/brokers").has_value());  // persistent nodes stay
}

TEST(coordination, sequential_nodes_count_up_per_parent) {
  store zk;
  const auto s = zk.open_session(10'000, 0);
  zk.create(s, "/q", "", create_mode::persistent);
  EXPECT_EQ(zk.create(s, "/q/item-", "a", create_mode::persistent_sequential).value(), "/q/item-0000000000");
  EXPECT_EQ(zk.create(s, "/q/item-", "b", create_mode::persistent_sequential).value(), "/q/item-0000000001");
  EXPECT_EQ(zk.children("/q").value(), (std::vector<std::string>{"item-0000000000", "item-0000000001"}));
}

TEST(coordination, watches_fire_once) {
  store zk;
  const auto writer = zk.open_session(10'000, 0);
  const auto watcher = zk.open_session(10'000, 0);
  EXPECT_FALSE(zk.exists("/flag", watcher).has_value());
  zk.create(writer, "/flag", "0", create_mode::persistent);
  auto ev = zk.take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, watch_event::kind::created);
  EXPECT_EQ(ev[0].session, watcher);
  zk.get("/flag", watcher);
  zk.set("/flag", "1");
  zk.set("/flag", "2");  // the watch was used up by the first change
  ev = zk.take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, watch_event::kind::data_changed);
}

// Lock recipe: each contender creates an ephemeral sequential node; the lowest holds the lock;
// the others watch only their predecessor (no herd effect). A crashed holder's session expires
// and the next contender is told.
TEST(coordination, distributed_lock_recipe) {
  store zk;
  const auto admin = zk.open_session(100'000, 0);
  zk.create(admin, "/lock", "", create_mode::persistent);
  std::vector<session_id> clients;
  std::vector<std::string> nodes;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(zk.open_session(5'000, 0));
    nodes.push_back(zk.create(clients.back(), "/lock/c-", "", create_mode::ephemeral_sequential).value());
  }
  auto holder = [&] { return "/lock/" + zk.children("/lock").value().front(); };
  EXPECT_EQ(holder(), nodes[0]);
  // Client 1 watches client 0's node, client 2 watches client 1's.
  ASSERT_TRUE(zk.exists(nodes[0], clients[1]).has_value());
  ASSERT_TRUE(zk.exists(nodes[1], clients[2]).has_value());
  // Client 0 crashes: it stops heartbeating, the others keep theirs up.
  zk.touch(clients[1], 4'000);
  zk.touch(clients[2], 4'000);
  zk.advance(6'000);
  const auto ev = zk.take_events();
  ASSERT_EQ(ev.size(), 1u);  // only the next in line is woken
  EXPECT_EQ(ev[0].session, clients[1]);
  EXPECT_EQ(ev[0].type, watch_event::kind::deleted);
  EXPECT_EQ(holder(), nodes[1]);
}

TEST(coordination, leader_election_and_queue_recipes) {
  store zk;
  const auto a = zk.open_session(5'000, 0);
  const auto b = zk.open_session(5'000, 0);
  // Election: whoever creates /leader first leads; the other watches it.
  ASSERT_TRUE(zk.create(a, "/leader", "a", create_mode::ephemeral).has_value());
  EXPECT_EQ(zk.create(b, "/leader", "b", create_mode::ephemeral).error(), zk_error::node_exists);
  zk.exists("/leader", b);
  zk.close_session(a);
  ASSERT_EQ(zk.take_events().size(), 1u);
  ASSERT_TRUE(zk.create(b, "/leader", "b", create_mode::ephemeral).has_value());
  EXPECT_EQ(zk.get("/leader")->first, "b");
  // Queue: producers add sequential nodes, a consumer takes the lowest and deletes it.
  zk.create(b, "/jobs", "", create_mode::persistent);
  for (const char* job : {"first", "second", "third"}) zk.create(b, "/jobs/j-", job, create_mode::persistent_sequential);
  std::vector<std::string> taken;
  while (!zk.children("/jobs")->empty()) {
    const auto head = "/jobs/" + zk.children("/jobs")->front();
    taken.push_back(zk.get(head)->first);
    EXPECT_EQ(zk.remove(head), zk_error::ok);
  }
  EXPECT_EQ(taken, (std::vector<std::string>{"first", "second", "third"}));
}

}  // namespace
}  // namespace mqlab::broker::coordination
