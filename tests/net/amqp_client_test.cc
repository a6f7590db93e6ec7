// The net-mode AMQP client against the real server over loopback TCP, both on one event loop:
// the handshake, pipelined commands, prefetch-limited delivery of bodies larger than a frame,
// acknowledgements, requeueing when a client vanishes, returns of unroutable messages and
// channel errors, a publish told once it is written, logins as a named user and refused ones.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/amqp/client.h"
#include "net/amqp/server.h"
#include "tests/net/amqp_observed.h"

namespace mqlab::net::amqp {
namespace {

namespace core = broker::amqp;

/// A server on free loopback ports and clients on the same io_context.
struct loopback {
  explicit loopback(server_options options = {}) : srv(io, broker, std::move(options), listen_options{.port = 0}) {
    EXPECT_TRUE(srv.start().has_value());
  }
  ~loopback() {
    srv.stop();
    io.run_for(std::chrono::milliseconds(200));
  }
  /// Runs the loop until `done` holds, for at most five seconds.
  bool until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
    return done();
  }
  std::uint32_t depth(const std::string& queue) {
    const auto info = broker.inspect_queue("/", queue);
    return info ? info->ready + info->unacked : 0;
  }

  boost::asio::io_context io;
  core::broker broker;
  server srv;
};

TEST(AmqpClient, DeliversWithinThePrefetchWindowAndBodiesLargerThanAFrame) {
  loopback net;
  observed producer_seen, consumer_seen;
  client producer(net.io, producer_seen.handlers()), consumer(net.io, consumer_seen.handlers());
  producer.connect(net.srv.port());
  consumer.connect(net.srv.port());
  producer.open_channel(1);
  producer.declare_queue(1, "jobs", true, {});
  const std::string big(300'000, 'x');  // three body frames at the default frame_max of 131072
  std::vector<std::string> bodies{"a", big, "c", "d", "e"};
  for (const auto& b : bodies) producer.publish(1, "", "jobs", false, plain, b);
  ASSERT_TRUE(net.until([&] { return net.depth("jobs") == 5; }));

  consumer.open_channel(1);
  consumer.qos(1, 2);
  consumer.consume(1, "jobs", false);
  ASSERT_TRUE(net.until([&] { return consumer_seen.delivered.size() == 2; }));
  net.io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(consumer_seen.delivered.size(), 2u) << "prefetch 2 holds the rest back until an ack";
  for (std::size_t acked = 0; acked < bodies.size(); ++acked) {
    ASSERT_TRUE(net.until([&] { return consumer_seen.delivered.size() > acked; }));
    consumer.ack(1, consumer_seen.delivered[acked].delivery_tag);
  }
  ASSERT_TRUE(net.until([&] { return net.depth("jobs") == 0; }));
  ASSERT_EQ(consumer_seen.delivered.size(), bodies.size());
  for (std::size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(consumer_seen.delivered[i].body, bodies[i]) << i;
  EXPECT_TRUE(producer_seen.closed.empty() && consumer_seen.closed.empty());
}

TEST(AmqpClient, AnAbortedConsumersUnackedMessagesAreRedeliveredToAnother) {
  loopback net;
  observed first_seen, second_seen, producer_seen;
  client producer(net.io, producer_seen.handlers()), first(net.io, first_seen.handlers());
  producer.connect(net.srv.port());
  producer.open_channel(1);
  producer.declare_queue(1, "tasks", true, {});
  for (int i = 0; i < 4; ++i) producer.publish(1, "", "tasks", false, plain, std::to_string(i));
  // The consumer's connection races the producer's: it may only subscribe once the queue exists.
  ASSERT_TRUE(net.until([&] { return net.depth("tasks") == 4; }));
  first.connect(net.srv.port());
  first.open_channel(1);
  first.qos(1, 4);
  first.consume(1, "tasks", false);
  ASSERT_TRUE(net.until([&] { return first_seen.delivered.size() == 4; }));
  first.abort();  // dies holding all four, unacknowledged

  client second(net.io, second_seen.handlers());
  second.connect(net.srv.port());
  second.open_channel(1);
  second.consume(1, "tasks", true);
  ASSERT_TRUE(net.until([&] { return second_seen.delivered.size() == 4; }));
  for (const auto& m : second_seen.delivered) EXPECT_TRUE(m.redelivered);
}

TEST(AmqpClient, UnroutableMandatoryMessagesComeBackAndChannelErrorsAreReported) {
  loopback net;
  observed seen;
  client c(net.io, seen.handlers());
  c.connect(net.srv.port());
  c.open_channel(1);
  c.publish(1, "", "nobody-listens", true, plain, "lost?");
  ASSERT_TRUE(net.until([&] { return seen.returned.size() == 1; }));
  EXPECT_EQ(seen.returned[0].body, "lost?");
  c.publish(1, "no-such-exchange", "k", false, plain, "x");
  ASSERT_TRUE(net.until([&] { return seen.channel_errors.size() == 1; }));
  EXPECT_NE(seen.channel_errors[0].find("NOT_FOUND"), std::string::npos) << seen.channel_errors[0];
  EXPECT_TRUE(seen.closed.empty()) << "a channel error leaves the connection open";
}

TEST(AmqpClient, APublishIsToldOnceItIsWrittenOrItsConnectionIsOver) {
  loopback net;
  observed seen;
  client c(net.io, seen.handlers());
  c.connect(net.srv.port());
  c.open_channel(1);
  c.declare_queue(1, "jobs", false, {});
  int written = 0;
  // Before connection.open-ok the frames wait in the client: not written yet.
  for (int i = 0; i < 3; ++i) c.publish(1, "", "jobs", false, plain, "m", [&] { ++written; });
  EXPECT_EQ(written, 0);
  ASSERT_TRUE(net.until([&] { return written == 3; }));
  ASSERT_TRUE(net.until([&] { return net.depth("jobs") == 3; }));
  // A connection that never opens: its publishes are over when it is.
  observed refused_seen;
  client refused(net.io, refused_seen.handlers());
  refused.connect(1);  // nothing listens on port 1
  int gone = 0;
  refused.publish(1, "", "jobs", false, plain, "m", [&] { ++gone; });
  ASSERT_TRUE(net.until([&] { return gone == 1; }));
  EXPECT_FALSE(refused_seen.closed.empty());
}

TEST(AmqpClient, LogsInAsANamedUserAndHearsWhyALoginIsRefused) {
  loopback net(server_options{.users = {{"calibrator", "s3cret"}}});
  observed good_seen, bad_seen, guest_seen;
  client good(net.io, good_seen.handlers()), bad(net.io, bad_seen.handlers()), guest(net.io, guest_seen.handlers());
  good.connect(net.srv.port(), {.user = "calibrator", .password = "s3cret"});
  good.open_channel(1);
  good.declare_queue(1, "probe", false, {});
  bad.connect(net.srv.port(), {.user = "calibrator", .password = "wrong"});
  guest.connect(net.srv.port());  // guest is not among this server's users
  ASSERT_TRUE(net.until([&] { return net.depth("probe") == 0 && net.broker.inspect_queue("/", "probe").has_value(); }));
  ASSERT_TRUE(net.until([&] { return !bad_seen.closed.empty() && !guest_seen.closed.empty(); }));
  EXPECT_NE(bad_seen.closed.find("403"), std::string::npos) << bad_seen.closed;
  EXPECT_NE(bad_seen.closed.find("Login was refused"), std::string::npos) << bad_seen.closed;
  EXPECT_NE(guest_seen.closed.find("403"), std::string::npos) << guest_seen.closed;
  EXPECT_TRUE(good_seen.closed.empty());
  EXPECT_TRUE(good.alive());
  observed nowhere_seen;
  client nowhere(net.io, nowhere_seen.handlers());
  nowhere.connect(net.srv.port(), {.host = "broker.example"});
  ASSERT_TRUE(net.until([&] { return !nowhere_seen.closed.empty(); }));
  EXPECT_EQ(nowhere_seen.closed, "broker.example: not an IP address");
}

}  // namespace
}  // namespace mqlab::net::amqp
