// A RabbitMQ cluster as separate cores, one per node (member mode), wired here by hand the way
// the network layer wires them over TCP: contents stay on the owner, a publish on another node
// is confirmed only once the owner has the message, mirrors follow the owner message for message,
// and a promoted mirror holds exactly what the owner held (ready and unacknowledged).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "broker/amqp/broker.h"

namespace mqlab::broker::amqp::testing {
namespace {

class members : public ::testing::Test {
 protected:
  void start(std::uint32_t n, ha_mode mode) {
    for (std::uint32_t i = 0; i < n; ++i) {
      nodes.push_back(std::make_unique<broker>(cluster_config{.nodes = n, .mirroring = mode, .self = node_id{i}}));
      inbox.emplace_back();
    }
  }

  void start_over(std::uint32_t n, ha_mode mode) {
    nodes.clear();
    inbox.clear();
    start(n, mode);
  }

  /// A client channel on `node`.
  channel_ref client(std::uint32_t node) {
    const auto conn = nodes[node]->open_connection("/", now, node_id{node}).value();
    EXPECT_TRUE(nodes[node]->channel_open({conn, 1}).has_value());
    return {conn, 1};
  }

  /// A client channel on `node` in confirm mode.
  channel_ref confirming_client(std::uint32_t node) {
    const auto c = client(node);
    EXPECT_TRUE(nodes[node]->confirm_select(c).has_value());
    return c;
  }

  /// Metadata is declared on every node, as if node `owner` had declared it and told the others.
  void declare_everywhere(const std::string& queue, std::uint32_t owner, field_table args = {}) {
    for (auto& b : nodes) {
      const auto conn = b->open_connection("/", now, node_id{owner}).value();
      ASSERT_TRUE(b->channel_open({conn, 1}).has_value());
      ASSERT_TRUE(b->queue_declare({conn, 1}, {.name = queue, .durable = true, .arguments = args}, now).has_value());
    }
  }

  void publish(std::uint32_t node, channel_ref on, const std::string& queue, const std::string& body) {
    ASSERT_TRUE(nodes[node]->basic_publish(on, "", queue, false, nullptr, body, now).has_value());
  }

  /// Carries peer messages between the cores until none are left; keeps the other events.
  void pump() {
    for (bool moved = true; moved;) {
      moved = false;
      for (std::uint32_t i = 0; i < nodes.size(); ++i) {
        for (auto& e : nodes[i]->take_events()) {
          auto* note = std::get_if<std::shared_ptr<const peer_message>>(&e);
          if (note == nullptr) {
            inbox[i].push_back(std::move(e));
            continue;
          }
          moved = true;
          deliver(i, **note);
        }
      }
    }
  }

  void deliver(std::uint32_t from, const peer_message& m) {
    for (node_id to : m.to) nodes[to.value]->receive(m, node_id{from}, now);
  }

  template <typename T>
  std::vector<T> taken(std::uint32_t node) {
    std::vector<T> out;
    for (auto& e : inbox[node]) {
      if (auto* x = std::get_if<T>(&e)) out.push_back(*x);
    }
    inbox[node].clear();
    return out;
  }

  /// The ack flags of the confirms `node`'s publishers got once the peer messages travelled.
  std::vector<bool> acks_after_pump(std::uint32_t node) {
    pump();
    std::vector<bool> acks;
    for (const auto& c : taken<confirm>(node)) acks.push_back(c.ack);
    return acks;
  }

  /// Two nodes, a queue node 0 owns: node `publisher` publishes, the copy it sends (to the owner
  /// or to the mirror) never arrives, and its receiver, node `lost`, crashes.
  std::vector<bool> acks_when_a_copy_is_lost(ha_mode mode, std::uint32_t publisher, std::uint32_t lost) {
    start_over(2, mode);
    declare_everywhere("q", 0);
    const auto c = confirming_client(publisher);
    publish(publisher, c, "q", "m");
    nodes[publisher]->clear_events();
    nodes[publisher]->crash_node(node_id{lost}, now);
    return acks_after_pump(publisher);
  }

  /// True if `node` has sent a confirm the peer messages have not yet let out.
  bool confirm_waiting(std::uint32_t node) {
    return std::ranges::any_of(nodes[node]->events(), [](const event& e) { return std::holds_alternative<confirm>(e); });
  }

  std::uint32_t ready(std::uint32_t node, const std::string& queue) {
    return nodes[node]->inspect_queue("/", queue)->ready;
  }

  void crash(std::uint32_t node) {
    for (auto& b : nodes) b->crash_node(node_id{node}, now);
    pump();
  }

  std::vector<std::unique_ptr<broker>> nodes;
  std::vector<std::vector<event>> inbox;
  instant now{};
};

TEST_F(members, a_publish_on_another_node_is_stored_by_the_owner_and_confirmed_once_it_has_it) {
  start(3, ha_mode::none);
  declare_everywhere("orders", 0);
  const auto producer = confirming_client(1);
  publish(1, producer, "orders", "o-1");
  EXPECT_FALSE(confirm_waiting(1)) << "no confirm before the owner has the message";
  EXPECT_EQ(acks_after_pump(1), std::vector<bool>{true});
  EXPECT_EQ(ready(0, "orders"), 1u);
  EXPECT_EQ(ready(1, "orders"), 0u) << "the publisher's node keeps no copy";
  EXPECT_EQ(nodes[1]->traffic().messages, 1u) << "the node that sent it counts the copy";
  EXPECT_EQ(nodes[0]->traffic().messages, 0u);
}

TEST_F(members, a_full_queue_on_the_owner_nacks_the_remote_publisher) {
  start(2, ha_mode::none);
  declare_everywhere("bounded", 0, {{"x-max-length", std::int64_t{1}}, {"x-overflow", std::string("reject-publish")}});
  const auto producer = confirming_client(1);
  publish(1, producer, "bounded", "fits");
  publish(1, producer, "bounded", "refused");
  EXPECT_EQ(acks_after_pump(1), (std::vector<bool>{true, false}));
  EXPECT_EQ(ready(0, "bounded"), 1u);
}

TEST_F(members, mirrors_follow_the_owner_and_the_promoted_one_holds_every_unfinished_message) {
  start(3, ha_mode::all);
  declare_everywhere("orders", 0);
  const auto producer = client(1);
  for (int i = 1; i <= 5; ++i) publish(1, producer, "orders", "o-" + std::to_string(i));
  pump();
  EXPECT_EQ(ready(1, "orders"), 5u);
  EXPECT_EQ(ready(2, "orders"), 5u);

  const auto worker = client(0);  // on the owner: takes two, acknowledges the first
  ASSERT_TRUE(nodes[0]->basic_qos(worker, 2, false, now).has_value());
  ASSERT_TRUE(nodes[0]->basic_consume(worker, {.queue = "orders"}, now).has_value());
  pump();
  const auto got = taken<delivery>(0);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(nodes[0]->basic_ack(worker, got[0].delivery_tag, false, now).has_value());
  pump();
  EXPECT_EQ(ready(2, "orders"), 4u) << "the acknowledged message left the mirror; the unacked one stays";

  crash(0);
  EXPECT_EQ(nodes[1]->owner_of("/", "orders"), node_id{1}) << "the oldest mirror is promoted";
  EXPECT_EQ(nodes[2]->owner_of("/", "orders"), node_id{1}) << "and every node agrees";
  const auto survivor = client(1);
  ASSERT_TRUE(nodes[1]->basic_consume(survivor, {.queue = "orders", .no_ack = true}, now).has_value());
  pump();
  std::vector<std::string> bodies;
  std::vector<bool> redelivered;
  for (const auto& d : taken<delivery>(1)) {
    bodies.emplace_back(d.msg->body());
    redelivered.push_back(d.redelivered);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"o-2", "o-3", "o-4", "o-5"}));
  // The ack of o-1 let o-3 into the worker's window: both were out at the dead owner's consumer.
  EXPECT_EQ(redelivered, (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(ready(2, "orders"), 0u) << "the new owner's mirror follows it too";
}

TEST_F(members, a_publish_to_a_mirrored_queue_is_confirmed_once_every_mirror_has_it) {
  start(3, ha_mode::all);
  declare_everywhere("orders", 0);
  for (std::uint32_t publisher : {0u, 1u}) {  // on the owner, and on a mirror through the owner
    const auto producer = confirming_client(publisher);
    publish(publisher, producer, "orders", "o");
    EXPECT_FALSE(confirm_waiting(publisher)) << "no confirm before the mirrors have the message";
    EXPECT_EQ(acks_after_pump(publisher), std::vector<bool>{true}) << "publisher on node " << publisher;
  }
  EXPECT_EQ(ready(2, "orders"), 2u);
}

TEST_F(members, a_mirror_lost_before_it_answered_leaves_while_a_lost_owner_refuses) {
  EXPECT_EQ(acks_when_a_copy_is_lost(ha_mode::all, 0, 1), std::vector<bool>{true})
      << "the owner has it: a lost mirror does not fail the publish";
  EXPECT_EQ(acks_when_a_copy_is_lost(ha_mode::none, 1, 0), std::vector<bool>{false})
      << "nobody took it: the publisher is told so";
}

TEST_F(members, a_returning_node_is_sent_the_mirrored_queue_in_full) {
  start(3, ha_mode::all);
  declare_everywhere("orders", 0);
  crash(2);
  const auto producer = client(1);
  for (int i = 1; i <= 3; ++i) publish(1, producer, "orders", "o-" + std::to_string(i));
  pump();
  EXPECT_EQ(ready(2, "orders"), 0u) << "a down node gets nothing";
  for (auto& b : nodes) b->restart_node(node_id{2}, now);
  pump();
  EXPECT_EQ(ready(2, "orders"), 3u);
}

TEST_F(members, a_queue_its_owner_deletes_is_forgotten_everywhere) {
  start(3, ha_mode::none);
  declare_everywhere("scratch", 1);
  const auto admin = client(1);
  ASSERT_TRUE(nodes[1]->queue_delete(admin, "scratch", false, false, now).has_value());
  pump();
  for (auto& b : nodes) EXPECT_FALSE(b->inspect_queue("/", "scratch").has_value());
}

TEST_F(members, a_transient_queue_dies_with_its_owner_on_every_node) {
  start(2, ha_mode::none);
  for (auto& b : nodes) {
    const auto conn = b->open_connection("/", now, node_id{0}).value();
    ASSERT_TRUE(b->channel_open({conn, 1}).has_value());
    ASSERT_TRUE(b->queue_declare({conn, 1}, {.name = "temp"}, now).has_value());
  }
  const auto producer = client(1);
  publish(1, producer, "temp", "x");
  pump();
  crash(0);
  EXPECT_FALSE(nodes[1]->inspect_queue("/", "temp").has_value());
  EXPECT_EQ(nodes[0]->totals().lost + nodes[1]->totals().lost, 1u) << "counted once, by the owner";
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
