// The work meter: what each AMQP call did, per site, as RabbitMQ would spend it — routing on
// the publishing channel's process, queue work on the queue's process at its owner, copies on
// each mirror, a disk write for a persistent message in a durable queue only.
#include <gtest/gtest.h>

#include "tests/broker/amqp_fixture.h"

namespace mqlab::broker::amqp::testing {
namespace {

class amqp_work : public amqp_test {
 protected:
  explicit amqp_work(cluster_config c = {}) : amqp_test(c) { b.meter().enable(true); }

  /// The one row charged at a channel's process (`channel`) or elsewhere; fails unless exactly one.
  work_row row(bool channel) {
    const work_row* found = nullptr;
    int n = 0;
    for (const auto& r : b.meter().rows()) {
      if (((r.site.process >> 63) != 0) == channel) {
        found = &r;
        ++n;
      }
    }
    EXPECT_EQ(n, 1);
    return found ? *found : work_row{};
  }
};

TEST_F(amqp_work, is_off_until_enabled_and_clears) {
  broker quiet;
  const auto c = quiet.open_connection("/", now).value();
  ASSERT_TRUE(quiet.channel_open({c, 1}).has_value());
  ASSERT_TRUE(quiet.basic_publish({c, 1}, "", "nowhere", false, nullptr, "x", now).has_value());
  EXPECT_TRUE(quiet.meter().rows().empty());

  declare_queue("q");
  b.meter().clear();
  publish("", "q", "hello");
  EXPECT_FALSE(b.meter().rows().empty());
  b.meter().clear();
  EXPECT_TRUE(b.meter().rows().empty());
}

TEST_F(amqp_work, a_publish_routes_on_its_channel_and_enqueues_on_its_queue) {
  declare_queue("orders");
  b.meter().clear();
  publish("", "orders", std::string(100, 'x'));
  const work_row channel = row(true), queue = row(false);
  EXPECT_EQ(channel[work_kind::frame], 1u);
  EXPECT_EQ(channel[work_kind::route_direct], 1u);
  EXPECT_EQ(channel[work_kind::bytes], 100u);
  EXPECT_EQ(queue.site.node, b.inspect_queue("/", "orders")->owner);
  EXPECT_NE(queue.site.process, 0u);  // the queue's own process, not the node's shared CPU
  EXPECT_EQ(queue[work_kind::enqueue], 1u);
  EXPECT_EQ(queue[work_kind::fsync_request], 0u);  // transient message, transient queue
}

TEST_F(amqp_work, a_headers_exchange_examines_every_binding_a_direct_one_only_matches) {
  declare_exchange("by-type", "direct");
  declare_exchange("by-header", "headers");
  for (int i = 0; i < 50; ++i) {
    const std::string q = "q" + std::to_string(i);
    declare_queue(q);
    ASSERT_TRUE(b.queue_bind(ch, q, "by-type", q).has_value());
    ASSERT_TRUE(b.queue_bind(ch, q, "by-header", "", {{"x-match", std::string("all")}, {"kind", q}}).has_value());
  }
  b.meter().clear();
  publish("by-type", "q7", "m");
  const auto direct = row(true);
  b.meter().clear();
  auto h = props([](basic_properties& p) { p.headers = {{"kind", std::string("q7")}}; });
  publish("by-header", "", "m", h);
  const auto headers = row(true);
  EXPECT_EQ(direct[work_kind::route_direct], 1u);
  EXPECT_EQ(direct[work_kind::binding_examined], 2u);  // the lookup and its one match
  EXPECT_EQ(headers[work_kind::route_headers], 1u);
  EXPECT_EQ(headers[work_kind::binding_examined], 50u);
}

TEST_F(amqp_work, a_persistent_message_in_a_durable_queue_is_written_and_synced) {
  declare_queue("durable", {}, true);
  declare_queue("transient", {}, false);
  auto persistent = props([](basic_properties& p) { p.delivery_mode = 2; });
  b.meter().clear();
  publish("", "durable", std::string(300, 'p'), persistent);
  EXPECT_EQ(row(false)[work_kind::persist_bytes], 300u);
  EXPECT_EQ(row(false)[work_kind::fsync_request], 1u);
  b.meter().clear();
  publish("", "transient", std::string(300, 'p'), persistent);  // RabbitMQ keeps it in memory only
  EXPECT_EQ(row(false)[work_kind::fsync_request], 0u);
}

TEST_F(amqp_work, delivery_and_ack_are_the_queues_work) {
  declare_queue("q");
  publish("", "q", "m");
  b.meter().clear();
  consume("q");
  const auto delivered = deliveries();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(row(false)[work_kind::deliver], 1u);
  b.meter().clear();
  ASSERT_TRUE(b.basic_ack(ch, delivered[0].delivery_tag, false, now).has_value());
  EXPECT_EQ(row(true)[work_kind::frame], 1u);
  EXPECT_EQ(row(false)[work_kind::ack], 1u);
}

TEST_F(amqp_work, a_message_is_stored_only_when_no_consumer_takes_it_at_once) {
  // RabbitMQ's classic queue hands a message straight to a consumer with room when it holds
  // none; otherwise it keeps it in its backing queue and fetches it again later.
  declare_queue("q");
  ASSERT_TRUE(b.basic_qos(ch, 2, false, now).has_value());
  consume("q");
  const auto stored = [&] {
    b.meter().clear();
    publish("", "q", "m");
    return row(false)[work_kind::stored];
  };
  EXPECT_EQ(stored(), 0u) << "a consumer with room takes it";
  EXPECT_EQ(stored(), 0u) << "the second fills the prefetch window";
  EXPECT_EQ(stored(), 1u) << "the window is full: it waits";
  EXPECT_EQ(stored(), 1u) << "behind the one waiting";
  const auto delivered = deliveries();
  ASSERT_EQ(delivered.size(), 2u);
  b.meter().clear();
  ASSERT_TRUE(b.basic_ack(ch, delivered[1].delivery_tag, true, now).has_value());
  EXPECT_EQ(row(false)[work_kind::stored], 0u) << "fetching the stored ones is their deliveries' work";
  EXPECT_EQ(row(false)[work_kind::deliver], 2u);
  EXPECT_EQ(stored(), 1u) << "the window is full again";
}

TEST_F(amqp_work, a_message_with_nobody_consuming_is_stored) {
  declare_queue("q");
  b.meter().clear();
  publish("", "q", "m");
  EXPECT_EQ(row(false)[work_kind::stored], 1u);
}

class amqp_mirrored_work : public amqp_work {
 protected:
  amqp_mirrored_work() : amqp_work(cluster_config{.nodes = 3, .mirroring = ha_mode::all}) {}
};

TEST_F(amqp_mirrored_work, each_mirror_takes_a_copy_and_the_owner_sends_one_to_each) {
  declare_queue("ha");
  b.meter().clear();
  publish("", "ha", std::string(10, 'm'));
  int mirrors = 0;
  std::uint32_t owner_copies = 0;
  for (const auto& r : b.meter().rows()) {
    if (r.site.process >> 63) continue;
    if (r[work_kind::enqueue] == 1) owner_copies = r[work_kind::mirror_copy];
    else if (r[work_kind::mirror_copy] == 1) ++mirrors;
  }
  EXPECT_EQ(mirrors, 2);
  EXPECT_EQ(owner_copies, 2u);
}

class amqp_cluster_work : public amqp_work {
 protected:
  amqp_cluster_work() : amqp_work(cluster_config{.nodes = 3}) {}
  /// Transfers charged on node `n`.
  std::uint32_t transfers_on(std::uint32_t n) {
    std::uint32_t sum = 0;
    for (const auto& r : b.meter().rows()) sum += r.site.node == node_id{n} ? r[work_kind::transfer] : 0;
    return sum;
  }
};

TEST_F(amqp_cluster_work, a_message_crossing_nodes_costs_the_node_it_leaves_and_the_one_it_joins) {
  declare_queue("far");  // owned by node 0
  const auto producer = open_channel(b.open_connection("/", now, node_id{1}).value(), 1);
  const auto consumer = open_channel(b.open_connection("/", now, node_id{2}).value(), 1);
  b.meter().clear();
  publish("", "far", "m", nullptr, producer);
  EXPECT_EQ(transfers_on(1), 1u) << "it leaves the publisher's node";
  EXPECT_EQ(transfers_on(0), 1u) << "and joins its owner's";
  b.meter().clear();
  consume("far", consumer);
  ASSERT_EQ(deliveries().size(), 1u);
  EXPECT_EQ(transfers_on(0), 1u) << "it leaves the owner";
  EXPECT_EQ(transfers_on(2), 1u) << "for the consumer's node";
  b.meter().clear();
  publish("", "far", "m");  // published on the owner's node: nothing crosses to the queue
  EXPECT_EQ(transfers_on(0), 1u) << "only the delivery to node 2 crosses";
  EXPECT_EQ(transfers_on(1), 0u);
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
