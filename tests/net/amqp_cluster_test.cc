// A three-node cluster of separate cores over loopback TCP (the seed's "RabbitMQ集群": metadata on
// every node, a queue's contents on its owner, mirrors copying them): clients on any node reach a
// queue owned by another, through the owner; killing a node closes its clients for real while
// the others carry on; a partition cuts the links until it heals, and what was declared
// meanwhile reaches the other side afterwards.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "net/amqp/client.h"
#include "net/amqp/cluster.h"
#include "net/amqp/codec.h"
#include "net/amqp/peer_protocol.h"
#include "net/amqp/upstream.h"
#include "tests/net/amqp_observed.h"

namespace mqlab::net::amqp {
namespace {

namespace core = broker::amqp;

/// A cluster on free loopback ports; clients run on the test's own io_context.
struct three_nodes {
  explicit three_nodes(core::ha_mode mirroring = core::ha_mode::none, std::string secret = {})
      : nodes(cluster_options{.shape = {.nodes = 3, .mirroring = mirroring}, .port = 0, .secret = std::move(secret)}) {
    EXPECT_TRUE(nodes.start().has_value());
  }
  ~three_nodes() { nodes.stop(); }

  /// Runs the clients until `done` holds, for at most five seconds.
  bool until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
    return done();
  }
  /// What node `node`'s core knows of a queue.
  std::optional<core::broker::queue_info> queue(std::uint32_t node, const std::string& name) {
    std::optional<core::broker::queue_info> info;
    nodes.inspect(node, [&](const core::broker& b) { info = b.inspect_queue("/", name); });
    return info;
  }
  /// A client of node `node` with channel 1 open, reporting to `seen`.
  std::unique_ptr<client> on(std::uint32_t node, observed& seen) {
    auto c = std::make_unique<client>(io, seen.handlers());
    c->connect(nodes.ports()[node]);
    c->open_channel(1);
    return c;
  }
  std::uint32_t ready(std::uint32_t node, const std::string& name) {
    const auto info = queue(node, name);
    return info ? info->ready : 0;
  }

  boost::asio::io_context io;
  cluster nodes;
};

TEST(AmqpCluster, AQueueDeclaredOnOneNodeIsKnownEverywhereAndHeldOnlyByItsOwner) {
  three_nodes net;
  observed seen;
  auto producer = net.on(1, seen);
  producer->declare_queue(1, "orders", true, {});
  ASSERT_TRUE(net.until([&] { return net.queue(0, "orders") && net.queue(2, "orders"); })) << "metadata travels";
  EXPECT_EQ(net.queue(0, "orders")->owner, broker::node_id{1});
  EXPECT_EQ(net.queue(2, "orders")->owner, broker::node_id{1});
  for (int i = 0; i < 10; ++i) producer->publish(1, "", "orders", false, plain, std::to_string(i));
  ASSERT_TRUE(net.until([&] { return net.ready(1, "orders") == 10; }));
  EXPECT_EQ(net.ready(0, "orders"), 0u);
  EXPECT_EQ(net.ready(2, "orders"), 0u);
}

TEST(AmqpCluster, APeerLinkWithoutTheClusterSecretChangesNothing) {
  // A raw socket to node 0's peer port says it is node 1 and declares a queue there, as a
  // node's link would: without the cluster's secret it is refused, with it obeyed.
  const auto intrude = [](three_nodes& net, const std::string& secret) {
    auto raw = std::make_unique<boost::asio::ip::tcp::socket>(net.io);
    raw->connect({boost::asio::ip::make_address("127.0.0.1"), net.nodes.peer_ports()[0]});
    std::string bytes;
    peer::write(bytes, peer::hello{1, secret});
    peer::write(bytes, peer::metadata{"/", queue_declare{.queue = "intruder", .durable = true}, 0});
    boost::asio::write(*raw, boost::asio::buffer(bytes));
    return raw;
  };
  three_nodes guarded(core::ha_mode::none, "s3cret");
  auto guessed = intrude(guarded, "guessed");
  auto none = intrude(guarded, "");
  EXPECT_FALSE(guarded.until([&] { return guarded.queue(0, "intruder").has_value(); })) << "a wrong secret was obeyed";
  auto right = intrude(guarded, "s3cret");
  EXPECT_TRUE(guarded.until([&] { return guarded.queue(0, "intruder").has_value(); }));
}

/// True once `frames` hold a complete method frame of type M.
template <typename M>
bool holds_method(std::string_view frames) {
  while (true) {
    auto f = decode_frame(frames, 0);
    if (!f || !*f) return false;
    if ((*f)->type == frame_type::method) {
      if (auto m = decode_method((*f)->payload); m && std::holds_alternative<M>(*m)) return true;
    }
    frames.remove_prefix((*f)->size());
  }
}

TEST(AmqpCluster, DeclareOkMeansEveryNodeHasTheQueue) {
  three_nodes net;
  // Node 2 is busy for a while: without waiting for it, node 1 would answer long before it knows.
  std::thread busy([&] { net.nodes.inspect(2, [](const core::broker&) { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::string answers;
  upstream raw(net.io, {.frames = [&](std::string_view f) { answers.append(f); }, .lost = [] {}});
  raw.open(net.nodes.ports()[1], {"127.0.0.1", "guest", "guest", "/", 131072, broker::node_id{1}});
  std::string frames;
  write_method(frames, 1, channel_open{});
  write_method(frames, 1, queue_declare{.queue = "fresh"});
  raw.send(1, frames, 0);
  ASSERT_TRUE(net.until([&] { return holds_method<queue_declare_ok>(answers); }));
  EXPECT_TRUE(net.queue(2, "fresh").has_value()) << "node 2 had applied it before the client heard declare-ok";
  EXPECT_TRUE(net.queue(0, "fresh").has_value());
  busy.join();
}

TEST(AmqpCluster, AProducerAndAConsumerOnOtherNodesMeetThroughTheOwner) {
  three_nodes net;
  observed owner_seen, producer_seen, consumer_seen;
  auto owner_side = net.on(0, owner_seen);
  owner_side->declare_queue(1, "relay", false, {});
  ASSERT_TRUE(net.until([&] { return net.queue(1, "relay") && net.queue(2, "relay"); }));
  const std::uint64_t links_before = net.nodes.link_bytes();

  auto producer = net.on(1, producer_seen);
  auto consumer = net.on(2, consumer_seen);
  consumer->qos(1, 5);
  consumer->consume(1, "relay", false);
  ASSERT_TRUE(net.until([&] { return net.queue(0, "relay")->consumers == 1; })) << "the owner serves the consumer";
  for (int i = 0; i < 20; ++i) producer->publish(1, "", "relay", false, plain, "m" + std::to_string(i));
  for (std::size_t acked = 0; acked < 20; ++acked) {
    ASSERT_TRUE(net.until([&] { return consumer_seen.delivered.size() > acked; })) << acked;
    consumer->ack(1, consumer_seen.delivered[acked].delivery_tag);
  }
  ASSERT_TRUE(net.until([&] { return net.queue(0, "relay")->stats.acked == 20; }));
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(consumer_seen.delivered[i].body, "m" + std::to_string(i));
  EXPECT_GT(net.nodes.link_bytes() - links_before, 20u * 2) << "the messages crossed the peer links";
  EXPECT_TRUE(consumer_seen.channel_errors.empty() && producer_seen.channel_errors.empty());
}

TEST(AmqpCluster, APublisherToABusyOwnerIsHeldBackByCreditFlowAndLosesNothing) {
  // RabbitMQ's credit flow: a node forwards at most 400 of a connection's messages that the
  // queue's owner has not handled yet, then stops reading that publisher's socket.
  three_nodes net;
  observed owner_seen, producer_seen;
  auto owner_side = net.on(0, owner_seen);
  owner_side->declare_queue(1, "busy", false, {});
  ASSERT_TRUE(net.until([&] { return net.queue(1, "busy").has_value(); }));
  auto producer = net.on(1, producer_seen);
  producer->publish(1, "", "busy", false, plain, "first");
  ASSERT_TRUE(net.until([&] { return net.ready(0, "busy") == 1; })) << "the producer is connected";

  std::atomic<bool> stalled{false};
  std::thread owner_busy([&] {
    net.nodes.inspect(0, [&](const core::broker&) {
      stalled = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    });
  });
  while (!stalled) std::this_thread::yield();
  const std::uint64_t links_before = net.nodes.link_bytes();
  constexpr int sent = 3000;
  const std::string body(1000, 'x');
  for (int i = 0; i < sent; ++i) producer->publish(1, "", "busy", false, plain, body);
  net.io.run_for(std::chrono::milliseconds(1000));
  const std::uint64_t forwarded = net.nodes.link_bytes() - links_before;
  owner_busy.join();

  // 400 messages, and what one 64 KiB read of the publisher's socket brought on top.
  EXPECT_LT(forwarded, 520u * (body.size() + 100)) << "node 1 kept forwarding to an owner that handled nothing";
  EXPECT_GT(forwarded, 400u * body.size()) << "node 1 forwards up to its credit";
  ASSERT_TRUE(net.until([&] { return net.ready(0, "busy") == sent + 1; })) << net.ready(0, "busy");
  EXPECT_TRUE(producer_seen.closed.empty() && producer_seen.channel_errors.empty());
}

TEST(AmqpCluster, AKilledOwnerDropsItsClientsAndClosesRelayedChannelsElsewhere) {
  three_nodes net;
  observed on_owner, elsewhere;
  auto owner_side = net.on(0, on_owner);
  owner_side->declare_queue(1, "orders", true, {});
  ASSERT_TRUE(net.until([&] { return net.queue(1, "orders").has_value(); }));
  auto other_side = net.on(1, elsewhere);
  other_side->consume(1, "orders", false);
  ASSERT_TRUE(net.until([&] { return net.queue(0, "orders")->consumers == 1; }));

  ASSERT_TRUE(net.nodes.kill(0));
  ASSERT_TRUE(net.until([&] { return !on_owner.closed.empty() && !elsewhere.channel_errors.empty(); }));
  EXPECT_NE(elsewhere.channel_errors[0].find("node 0"), std::string::npos) << elsewhere.channel_errors[0];
  EXPECT_TRUE(elsewhere.closed.empty()) << "node 1's client keeps its connection";
  EXPECT_FALSE(net.queue(1, "orders")->available) << "a durable queue waits for its node";
  EXPECT_FALSE(net.nodes.kill(0)) << "already down";
  ASSERT_TRUE(net.nodes.restart(0).has_value());
  EXPECT_TRUE(net.queue(1, "orders")->available);
}

TEST(AmqpCluster, AMirroredQueueSurvivesItsOwnerWithEveryUnackedMessage) {
  three_nodes net(core::ha_mode::all);
  observed producer_seen, first_seen, second_seen;
  auto producer = net.on(0, producer_seen);
  producer->declare_queue(1, "jobs", true, {});
  for (int i = 0; i < 6; ++i) producer->publish(1, "", "jobs", false, plain, std::to_string(i));
  ASSERT_TRUE(net.until([&] { return net.ready(1, "jobs") == 6 && net.ready(2, "jobs") == 6; })) << "mirrored";
  auto first = net.on(2, first_seen);
  first->qos(1, 2);
  first->consume(1, "jobs", false);
  ASSERT_TRUE(net.until([&] { return first_seen.delivered.size() == 2; }));
  first->ack(1, first_seen.delivered[0].delivery_tag);
  ASSERT_TRUE(net.until([&] { return net.ready(1, "jobs") == 5; })) << "an ack reaches the mirrors";

  ASSERT_TRUE(net.nodes.kill(0));
  EXPECT_EQ(net.queue(2, "jobs")->owner, broker::node_id{1}) << "the oldest mirror is promoted";
  auto second = net.on(2, second_seen);
  second->consume(1, "jobs", true);
  ASSERT_TRUE(net.until([&] { return second_seen.delivered.size() == 5; }));
  std::vector<std::string> bodies;
  for (const auto& m : second_seen.delivered) bodies.push_back(m.body);
  EXPECT_EQ(bodies, (std::vector<std::string>{"1", "2", "3", "4", "5"})) << "nothing lost, nothing acked comes back";
}

TEST(AmqpCluster, AQueueThatAsksForMirrorsWithXHaPolicyIsMirroredInAClusterWithoutAPolicy) {
  three_nodes net;  // ha-mode none
  observed producer_seen;
  auto producer = net.on(0, producer_seen);
  producer->declare_queue(1, "asked", false, {{"x-ha-policy", core::field_value{std::string("all")}}});
  producer->declare_queue(1, "plain", false, {});
  for (int i = 0; i < 3; ++i) {
    producer->publish(1, "", "asked", false, plain, "a");
    producer->publish(1, "", "plain", false, plain, "p");
  }
  ASSERT_TRUE(net.until([&] { return net.ready(1, "asked") == 3 && net.ready(2, "asked") == 3; })) << "copied to both";
  EXPECT_EQ(net.ready(1, "plain"), 0u) << "a queue that did not ask lives on its owner only";
  ASSERT_TRUE(net.nodes.kill(0));
  EXPECT_EQ(net.ready(1, "asked"), 3u) << "promoted with every message";
  EXPECT_TRUE(net.queue(1, "asked")->available);
}

TEST(AmqpCluster, APartitionCutsTheLinksAndWhatWasDeclaredMeanwhileArrivesAfterTheHeal) {
  three_nodes net;
  observed seen;
  auto on_node0 = net.on(0, seen);
  net.nodes.partition(0, 1);
  on_node0->declare_queue(1, "during-the-cut", false, {});
  ASSERT_TRUE(net.until([&] { return net.queue(2, "during-the-cut").has_value(); })) << "node 2 is not cut off";
  EXPECT_FALSE(net.queue(1, "during-the-cut").has_value()) << "node 1 is";
  net.nodes.heal(0, 1);
  ASSERT_TRUE(net.until([&] { return net.queue(1, "during-the-cut").has_value(); }));
  EXPECT_TRUE(seen.channel_errors.empty());
}

}  // namespace
}  // namespace mqlab::net::amqp
