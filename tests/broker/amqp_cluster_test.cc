// RabbitMQ clusters (the seed's "RabbitMQ集群" section): metadata everywhere, contents on the
// owner node; normal vs mirrored queues when the owner crashes, durable vs transient.
#include "amqp_fixture.h"

namespace mqlab::broker::amqp::testing {
namespace {

auto persistent() {
  return props([](basic_properties& p) { p.delivery_mode = 2; });
}

class normal_cluster : public amqp_test {
 protected:
  normal_cluster() : amqp_test(cluster_config{3, ha_mode::none, 2}) {}
};

class mirrored_cluster : public amqp_test {
 protected:
  mirrored_cluster() : amqp_test(cluster_config{3, ha_mode::all, 2}) {}
};

TEST_F(normal_cluster, metadata_is_everywhere_and_contents_are_fetched_from_the_owner) {
  declare_queue("orders", {}, true);  // declared through node 0: owned by node 0
  const auto on_node2 = b.open_connection("/", now, node_id{2}).value();
  const auto ch2 = open_channel(on_node2, 1);
  publish("", "orders", std::string(100, 'x'), nullptr, ch2);  // node 2 -> owner node 0
  EXPECT_EQ(b.traffic().messages, 1u);
  consume("orders", ch2);  // and back to node 2: a cross-node fetch
  ASSERT_EQ(deliveries().size(), 1u);
  EXPECT_EQ(b.traffic().messages, 2u);
  EXPECT_EQ(b.traffic().bytes, 200u);
  EXPECT_EQ(b.traffic().mirror_copies, 0u);
}

TEST_F(normal_cluster, durable_queue_is_unavailable_while_its_owner_is_down_then_returns) {
  const auto client = b.open_connection("/", now, node_id{1}).value();
  const auto cch = open_channel(client, 1);
  queue_declare_args a{.name = "durable-q", .durable = true};
  ASSERT_TRUE(b.queue_declare(ch, a, now).has_value());  // owner: node 0
  publish("", "durable-q", "persistent", persistent(), cch);
  publish("", "durable-q", "transient", nullptr, cch);
  b.crash_node(node_id{0}, now);
  EXPECT_FALSE(b.inspect_queue("/", "durable-q")->available);
  auto r = b.basic_consume(cch, {.queue = "durable-q"}, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::not_found);
  EXPECT_NE(r.error().text.find("is down or inaccessible"), std::string::npos);
  const auto again = open_channel(client, 2);
  publish("", "durable-q", "while down", persistent(), again);
  b.restart_node(node_id{0}, now);
  const auto info = b.inspect_queue("/", "durable-q").value();
  EXPECT_TRUE(info.available);
  EXPECT_EQ(info.ready, 1u);  // the persistent message survived; the transient one did not
  EXPECT_EQ(info.stats.lost, 2u);  // transient lost at restart + the publish while down
}

TEST_F(normal_cluster, a_confirming_publisher_is_nacked_while_the_owner_is_down_and_nothing_counts_as_lost) {
  // RabbitMQ nacks a confirm-mode publish its queue cannot take: the publisher knows and may
  // publish again, so the broker has refused the message, not lost it.
  const auto client = b.open_connection("/", now, node_id{1}).value();
  const auto cch = open_channel(client, 1);
  ASSERT_TRUE(b.confirm_select(cch).has_value());
  ASSERT_TRUE(b.queue_declare(ch, {.name = "durable-q", .durable = true}, now).has_value());
  b.crash_node(node_id{0}, now);
  publish("", "durable-q", "while down", persistent(), cch);
  const auto seen = confirms();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].ack);
  EXPECT_EQ(b.totals().refused, 1u);
  EXPECT_EQ(b.totals().lost, 0u);
}

TEST_F(normal_cluster, transient_queue_and_its_messages_are_lost_with_the_owner) {
  const auto client = b.open_connection("/", now, node_id{1}).value();
  const auto cch = open_channel(client, 1);
  declare_queue("transient-q");
  for (int i = 0; i < 5; ++i) publish("", "transient-q", "m", nullptr, cch);
  b.crash_node(node_id{0}, now);
  EXPECT_FALSE(b.inspect_queue("/", "transient-q").has_value());
  EXPECT_EQ(b.totals().lost, 5u);
  // The crashed node's own client connection was closed.
  EXPECT_FALSE(b.channel_open({conn, 7}).has_value());
}

TEST_F(mirrored_cluster, owner_crash_promotes_a_mirror_and_loses_nothing) {
  const auto client = b.open_connection("/", now, node_id{1}).value();
  const auto cch = open_channel(client, 1);
  declare_queue("ha-q", {}, true);  // owner node 0, mirrors on 1 and 2
  EXPECT_EQ(b.traffic().mirror_copies, 0u);
  for (int i = 0; i < 4; ++i) publish("", "ha-q", "m" + std::to_string(i), nullptr, cch);
  EXPECT_EQ(b.traffic().mirror_copies, 8u);  // every message copied to two mirrors
  // One message is in flight to a consumer on node 1 when node 0 dies.
  ASSERT_TRUE(b.basic_qos(cch, 1, false, now).has_value());
  consume("ha-q", cch);
  ASSERT_EQ(deliveries().size(), 1u);
  b.crash_node(node_id{0}, now);
  const auto info = b.inspect_queue("/", "ha-q").value();
  EXPECT_TRUE(info.available);
  EXPECT_EQ(info.owner, node_id{1});
  EXPECT_EQ(info.ready, 4u);  // 3 waiting + the unacked one, requeued
  EXPECT_EQ(info.stats.lost, 0u);
  // The consumer was cancelled by the failover; a new one gets m0 again, marked redelivered.
  deliveries();
  consume("ha-q", open_channel(client, 2));
  const auto d = deliveries();
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].msg->body(), "m0");
  EXPECT_TRUE(d[0].redelivered);
}

TEST_F(normal_cluster, a_queue_declared_with_x_ha_policy_all_is_mirrored_as_in_rabbitmq_2) {
  // Before policies (RabbitMQ 3.0) a queue asked for mirrors itself: x-ha-policy "all".
  declare_queue("asked", {{"x-ha-policy", std::string("all")}});
  declare_queue("plain");
  for (const char* q : {"asked", "plain"}) publish("", q, "m");
  EXPECT_EQ(b.traffic().mirror_copies, 2u) << "only the queue that asked is copied, to both other nodes";
  auto refused = b.queue_declare(open_channel(b.open_connection("/", now).value(), 1), {.name = "nodes", .arguments = {{"x-ha-policy", std::string("nodes")}}}, now);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, reply_code::precondition_failed);
  EXPECT_NE(refused.error().text.find("x-ha-policy"), std::string::npos) << refused.error().text;
  b.crash_node(node_id{0}, now);
  EXPECT_EQ(b.inspect_queue("/", "asked")->ready, 1u) << "a mirror took over";
  EXPECT_EQ(b.totals().lost, 1u) << "the plain transient queue went with its owner";
}

TEST_F(mirrored_cluster, a_transient_mirrored_queue_also_survives_its_owner) {
  const auto client = b.open_connection("/", now, node_id{2}).value();
  const auto cch = open_channel(client, 1);
  declare_queue("fast-ha");  // non-durable, but mirrored
  for (int i = 0; i < 3; ++i) publish("", "fast-ha", "m", nullptr, cch);
  b.crash_node(node_id{0}, now);
  EXPECT_EQ(b.inspect_queue("/", "fast-ha")->ready, 3u);
  EXPECT_EQ(b.totals().lost, 0u);
}

TEST(cluster_sync, manual_sync_mirror_is_not_promoted_until_the_queue_drains) {
  broker b(cluster_config{2, ha_mode::all, 2, false});
  const auto conn = b.open_connection("/", {}, node_id{0}).value();
  const channel_ref ch{conn, 1};
  ASSERT_TRUE(b.channel_open(ch).has_value());
  ASSERT_TRUE(b.queue_declare(ch, {.name = "q", .durable = true}, {}).has_value());
  const auto far = b.open_connection("/", {}, node_id{1}).value();
  ASSERT_TRUE(b.channel_open({far, 1}).has_value());
  b.crash_node(node_id{1}, {});  // the only mirror goes...
  ASSERT_TRUE(b.basic_publish(ch, "", "q", false, props([](basic_properties& p) { p.delivery_mode = 2; }), "old", {}).has_value());
  b.restart_node(node_id{1}, {});  // ...and comes back unsynchronised: it never saw "old"
  b.crash_node(node_id{0}, {});
  EXPECT_FALSE(b.inspect_queue("/", "q")->available);  // not promoted: the queue is down, not lost
}

TEST_F(normal_cluster, a_partition_hides_queues_across_the_cut_until_healed) {
  declare_queue("orders", {}, true);  // owner node 0
  const auto far = b.open_connection("/", now, node_id{2}).value();
  const auto fch = open_channel(far, 1);
  consume("orders", fch);
  b.partition(node_id{0}, node_id{2});
  publish("", "orders", "kept");  // local publisher on node 0: stored
  EXPECT_TRUE(deliveries().empty());  // the consumer on node 2 is cut off
  auto r = b.basic_get(open_channel(far, 2), "orders", true, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::not_found);
  b.heal(node_id{0}, node_id{2}, now);
  EXPECT_EQ(bodies(), (std::vector<std::string>{"kept"}));
}

TEST(cluster_cost, mirroring_multiplies_inter_node_traffic) {
  auto run = [](ha_mode mode) {
    broker b(cluster_config{3, mode, 2});
    const auto conn = b.open_connection("/", {}, node_id{0}).value();
    EXPECT_TRUE(b.channel_open({conn, 1}).has_value());
    EXPECT_TRUE(b.queue_declare({conn, 1}, {.name = "q", .durable = true}, {}).has_value());
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(b.basic_publish({conn, 1}, "", "q", false, nullptr, std::string(1000, 'x'), {}).has_value());
    return b.traffic();
  };
  const auto normal = run(ha_mode::none);
  const auto all = run(ha_mode::all);
  const auto two = run(ha_mode::exactly);
  EXPECT_EQ(normal.bytes, 0u);              // local publisher, local queue
  EXPECT_EQ(all.bytes, 100u * 1000 * 2);    // two mirrors
  EXPECT_EQ(two.bytes, 100u * 1000 * 1);    // ha-mode exactly 2: one mirror
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
