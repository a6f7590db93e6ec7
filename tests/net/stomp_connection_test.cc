// The STOMP connection state machine frame by frame, against the STOMP 1.2 specification and
// ActiveMQ 5's STOMP connector (its ProtocolConverter's messages and which errors close the
// connection): CONNECT, SEND with JMS headers, the three ack modes, NACK to the DLQ,
// transactions, durable subscriptions, selectors, browsers, receipts and heart-beats.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "broker/jms/broker.h"
#include "net/stomp/connection.h"

using namespace std::string_literals;

namespace mqlab::net::stomp {
namespace {

namespace jms = broker::jms;
constexpr std::int64_t ms = 1'000'000;

/// One client: what it sends and the frames it got back.
struct client {
  std::unique_ptr<connection> conn;
  decoder in;

  void send(std::string_view bytes, broker::instant now) { conn->receive(bytes, now); }
  /// The frames the server wrote since the last call (as the transport would take them).
  std::vector<frame> frames(broker::instant now) {
    conn->output_taken(now);
    in.feed(std::exchange(conn->output(), {}));
    conn->output_written(now);
    std::vector<frame> out;
    while (auto f = in.next()) {
      if (!*f) break;
      out.push_back(std::move(**f));
    }
    return out;
  }
  frame only(broker::instant now) {
    auto fs = frames(now);
    EXPECT_EQ(fs.size(), 1u);
    return fs.empty() ? frame{} : fs.front();
  }
};

class stomp_connection_test : public ::testing::Test {
 protected:
  jms::broker core;
  service svc{core, {.users = {{"guest", "guest"}, {"app", "secret"}}}};
  broker::instant now{1'700'000'000'000 * ms};  // wall-clock time, as the server uses

  client open(bool loopback = true) { return client{std::make_unique<connection>(svc, loopback, now), decoder{}}; }
  client connected(std::string extra = "") {
    client c = open();
    c.send("CONNECT\naccept-version:1.0,1.1,1.2\nhost:localhost\n" + extra + "\n\0"s, now);
    const frame f = c.only(now);
    EXPECT_EQ(f.command, "CONNECTED") << f.get("message").value_or("");
    c.in.set_version(version::v1_2);
    return c;
  }
};

TEST_F(stomp_connection_test, connect_picks_the_highest_common_version_and_mirrors_the_heart_beats) {
  client c = open();
  c.send("STOMP\naccept-version:1.1,1.2,2.0\nheart-beat:4000,10000\nlogin:app\npasscode:secret\nclient-id:shop\nreceipt:r1\n\n\0"s, now);
  const frame f = c.only(now);
  EXPECT_EQ(f.command, "CONNECTED");
  EXPECT_EQ(f.get("version"), "1.2");
  EXPECT_EQ(f.get("heart-beat"), "10000,4000");  // beats every 10 s as asked, expects one every 4 s
  EXPECT_EQ(f.get("session"), "shop");
  EXPECT_EQ(f.get("receipt-id"), "r1");

  client old = open();
  old.send("CONNECT\n\n\0"s, now);  // no accept-version: STOMP 1.0, and no login: guest
  EXPECT_EQ(old.only(now).get("version"), "1.0");

  client slow = open();  // intervals beyond a day are a day: the timers reckon in nanoseconds
  slow.send("CONNECT\naccept-version:1.2\nheart-beat:99999999999999,0\n\n\0"s, now);
  EXPECT_EQ(slow.only(now).get("heart-beat"), "0,86400000");
}

TEST_F(stomp_connection_test, refused_logins_and_versions_end_the_connection_with_activemqs_words) {
  client wrong = open();
  wrong.send("CONNECT\naccept-version:1.2\nlogin:app\npasscode:nope\n\n\0"s, now);
  frame f = wrong.only(now);
  EXPECT_EQ(f.command, "ERROR");
  EXPECT_EQ(f.get("message"), "User name [app] or password is invalid.");
  EXPECT_TRUE(wrong.conn->done());

  client remote_guest = open(false);
  remote_guest.send("CONNECT\naccept-version:1.2\n\n\0"s, now);
  EXPECT_EQ(remote_guest.only(now).get("message"), "User name [guest] or password is invalid.");
  EXPECT_TRUE(remote_guest.conn->done());
  EXPECT_EQ(remote_guest.conn->end_reason(), "login refused: user 'guest' can only connect via localhost");

  client future = open();
  future.send("CONNECT\naccept-version:2.0\n\n\0"s, now);
  EXPECT_EQ(future.only(now).get("message"), "Invalid Protocol version[2.0], supported versions are: [1.2, 1.1, 1.0]");
  EXPECT_TRUE(future.conn->done());
}

TEST_F(stomp_connection_test, before_connect_frames_are_refused_but_the_connection_survives_and_unknown_ones_end_it) {
  client c = open();
  c.send("SEND\ndestination:/queue/a\nreceipt:7\n\nx\0"s, now);
  frame f = c.only(now);
  EXPECT_EQ(f.get("message"), "Not connected.");
  EXPECT_EQ(f.get("receipt-id"), "7");
  EXPECT_FALSE(c.conn->done());
  c.send("FLY\n\n\0"s, now);
  EXPECT_EQ(c.only(now).get("message"), "Unknown STOMP action: FLY");
  EXPECT_TRUE(c.conn->done());
}

TEST_F(stomp_connection_test, send_maps_stomp_headers_onto_jms_and_back) {
  client producer = connected();
  client consumer = connected();
  consumer.send("SUBSCRIBE\nid:0\ndestination:/queue/orders\n\n\0"s, now);
  producer.send("SEND\ndestination:/queue/orders\npersistent:true\npriority:7\ncorrelation-id:c-1\nreply-to:/topic/replies\n"
                "type:order\nexpires:1800000000000\nregion:eu\\cwest\n\nhello\0"
                "SEND\ndestination:/queue/orders\ncontent-length:3\n\na\0b\0"s, now);
  const auto fs = consumer.frames(now);
  ASSERT_EQ(fs.size(), 2u);
  const frame& text = fs[0];
  EXPECT_EQ(text.get("destination"), "/queue/orders");
  EXPECT_EQ(text.get("subscription"), "0");
  EXPECT_EQ(text.get("persistent"), "true");
  EXPECT_EQ(text.get("priority"), "7");
  EXPECT_EQ(text.get("correlation-id"), "c-1");
  EXPECT_EQ(text.get("reply-to"), "/topic/replies");
  EXPECT_EQ(text.get("type"), "order");
  EXPECT_EQ(text.get("expires"), "1800000000000");
  EXPECT_EQ(text.get("region"), "eu:west");  // a custom header is a JMS property
  EXPECT_TRUE(text.get("message-id")->starts_with("ID:"));
  EXPECT_FALSE(text.has("content-length"));  // a TextMessage
  EXPECT_EQ(text.body, "hello");
  EXPECT_EQ(fs[1].get("content-length"), "3");  // a BytesMessage
  EXPECT_EQ(fs[1].body, std::string("a\0b", 3));
  EXPECT_FALSE(fs[1].has("persistent"));  // STOMP sends are non-persistent unless they say so

  producer.send("SEND\ndestination:/queue/orders\nexpires:99999999999999999\n\nfar\0"s, now);
  EXPECT_EQ(consumer.only(now).get("expires"), std::to_string(INT64_MAX / ms - 1));  // year 2262, as far as timers reach
}

TEST_F(stomp_connection_test, bare_names_are_queues_and_temporary_destinations_are_refused) {
  client c = connected();
  c.send("SUBSCRIBE\nid:a\ndestination:jobs\n\n\0SEND\ndestination:jobs\n\nx\0"s, now);
  EXPECT_EQ(c.only(now).get("destination"), "/queue/jobs");
  c.send("SEND\ndestination:/temp-queue/r\n\nx\0SEND\n\nx\0"s, now);
  const auto fs = c.frames(now);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].get("message"), "Temporary destinations are not supported: [/temp-queue/r]");
  EXPECT_EQ(fs[1].get("message"), "SEND received without a Destination specified!");
  EXPECT_FALSE(c.conn->done());
}

TEST_F(stomp_connection_test, auto_ack_settles_a_message_once_it_is_written_not_before) {
  client c = connected();
  c.send("SUBSCRIBE\nid:s\ndestination:/queue/q\nactivemq.prefetchSize:1\n\n\0"s, now);
  client p = connected();
  p.send("SEND\ndestination:/queue/q\n\n1\0SEND\ndestination:/queue/q\n\n2\0"s, now);
  // Prefetch 1: the second waits until the first has gone out on the socket.
  EXPECT_EQ(core.queue_depth("q"), 1u);
  c.conn->output_taken(now);
  EXPECT_EQ(core.queue_depth("q"), 1u);
  c.conn->output_written(now);
  EXPECT_EQ(core.queue_depth("q"), 0u);
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "q").acknowledged, 1u);
}

TEST_F(stomp_connection_test, client_ack_is_cumulative_and_client_individual_is_not) {
  client c = connected();
  c.send("SUBSCRIBE\nid:cum\ndestination:/queue/a\nack:client\n\n\0SUBSCRIBE\nid:ind\ndestination:/queue/b\nack:client-individual\n\n\0"s, now);
  client p = connected();
  for (int i = 0; i < 3; ++i) p.send("SEND\ndestination:/queue/a\n\nx\0SEND\ndestination:/queue/b\n\nx\0"s, now);
  auto fs = c.frames(now);
  ASSERT_EQ(fs.size(), 6u);
  std::vector<std::string> a_acks, b_acks;
  for (const auto& f : fs) (f.get("subscription") == "cum" ? a_acks : b_acks).push_back(std::string(*f.get("ack")));
  c.send("ACK\nid:" + a_acks[1] + "\n\n\0ACK\nid:"s + b_acks[1] + "\n\n\0"s, now);
  EXPECT_TRUE(c.frames(now).empty());
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "a").acknowledged, 2u);  // the first two
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "b").acknowledged, 1u);  // only the second
  c.send("ACK\nid:" + a_acks[0] + "\nreceipt:again\n\n\0"s, now);  // already settled by the cumulative ACK
  const frame f = c.only(now);
  EXPECT_EQ(f.command, "ERROR");
  EXPECT_EQ(f.get("receipt-id"), "again");
  EXPECT_TRUE(f.get("message")->starts_with("Unexpected ACK received for message-id"));
}

TEST_F(stomp_connection_test, stomp_1_1_acks_by_message_id_and_subscription_and_1_0_cannot_nack) {
  client c = open();
  c.send("CONNECT\naccept-version:1.1\n\n\0"s, now);
  c.frames(now);
  c.in.set_version(version::v1_1);
  c.send("SUBSCRIBE\nid:s\ndestination:/queue/q\nack:client\n\n\0SEND\ndestination:/queue/q\n\nx\0"s, now);
  const frame m = c.only(now);
  EXPECT_FALSE(m.has("ack"));  // ack ids are STOMP 1.2's
  c.send("ACK\nmessage-id:" + std::string(*m.get("message-id")) + "\n\n\0"s, now);
  EXPECT_EQ(c.only(now).get("message"), "ACK received without a subscription id for acknowledge!");
  c.send("ACK\nmessage-id:" + std::string(*m.get("message-id")) + "\nsubscription:s\n\n\0"s, now);
  EXPECT_TRUE(c.frames(now).empty());
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "q").acknowledged, 1u);

  client old = open();
  old.send("CONNECT\n\n\0NACK\nmessage-id:x\n\n\0"s, now);
  EXPECT_EQ(old.frames(now).back().get("message"), "NACK received but connection is in v1.0 mode.");
}

TEST_F(stomp_connection_test, nack_is_a_poison_ack_that_sends_a_persistent_message_straight_to_the_dlq) {
  client c = connected();
  c.send("SUBSCRIBE\nid:s\ndestination:/queue/work\nack:client-individual\n\n\0"
         "SEND\ndestination:/queue/work\npersistent:true\n\nbad\0"s, now);
  const frame m = c.only(now);
  c.send("NACK\nid:" + std::string(*m.get("ack")) + "\n\n\0"s, now);
  EXPECT_TRUE(c.frames(now).empty());
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "work").redelivered, 0u);
  EXPECT_EQ(core.queue_depth("ActiveMQ.DLQ"), 1u);
  c.send("SUBSCRIBE\nid:dlq\ndestination:/queue/ActiveMQ.DLQ\n\n\0"s, now);
  const frame dead = c.only(now);
  EXPECT_EQ(dead.body, "bad");
  EXPECT_TRUE(dead.has("dlqDeliveryFailureCause"));
}

TEST_F(stomp_connection_test, a_transaction_holds_sends_and_acks_until_commit_and_abort_undoes_both) {
  client c = connected();
  c.send("SUBSCRIBE\nid:s\ndestination:/queue/in\nack:client-individual\n\n\0"
         "SEND\ndestination:/queue/in\n\njob\0"s, now);
  const frame job = c.only(now);
  c.send("BEGIN\ntransaction:t1\n\n\0"
         "ACK\nid:"s + std::string(*job.get("ack")) + "\ntransaction:t1\n\n\0"
         "SEND\ndestination:/queue/out\ntransaction:t1\n\nresult\0"s, now);
  EXPECT_EQ(core.queue_depth("out"), 0u);
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "in").acknowledged, 0u);
  c.send("ABORT\ntransaction:t1\n\n\0"s, now);
  EXPECT_EQ(core.queue_depth("out"), 0u);  // the send is gone
  // The ack id is valid again after ABORT; this time commit.
  c.send("BEGIN\ntransaction:t2\n\n\0"
         "ACK\nid:"s + std::string(*job.get("ack")) + "\ntransaction:t2\n\n\0"
         "SEND\ndestination:/queue/out\ntransaction:t2\n\nresult\0"
         "COMMIT\ntransaction:t2\nreceipt:done\n\n\0"s, now);
  EXPECT_EQ(c.only(now).get("receipt-id"), "done");
  EXPECT_EQ(core.queue_depth("out"), 1u);
  EXPECT_EQ(core.stats(jms::destination_kind::queue, "in").acknowledged, 1u);
  c.send("COMMIT\ntransaction:t2\n\n\0BEGIN\n\n\0"s, now);
  const auto fs = c.frames(now);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].get("message"), "Invalid transaction id: t2");
  EXPECT_EQ(fs[1].get("message"), "Must specify the transaction you are beginning");
}

TEST_F(stomp_connection_test, durable_subscriptions_keep_messages_for_their_client_id) {
  client a = connected("client-id:billing\n");
  a.send("SUBSCRIBE\nid:d\ndestination:/topic/prices\nactivemq.subscriptionName:all-prices\n\n\0"s, now);
  client twin = open();
  twin.send("CONNECT\naccept-version:1.2\nclient-id:billing\n\n\0"s, now);
  EXPECT_EQ(twin.only(now).command, "ERROR");
  EXPECT_TRUE(twin.conn->done());
  a.send("UNSUBSCRIBE\nid:d\nactivemq.subscriptionName:all-prices\n\n\0"s, now);  // still active
  EXPECT_EQ(a.only(now).command, "ERROR");
  a.send("DISCONNECT\nreceipt:bye\n\n\0"s, now);
  EXPECT_EQ(a.only(now).get("receipt-id"), "bye");
  EXPECT_TRUE(a.conn->done());

  client p = connected();
  p.send("SEND\ndestination:/topic/prices\npersistent:true\n\n101\0SEND\ndestination:/topic/prices\n\n102\0"s, now);
  EXPECT_EQ(core.subscription_depth("billing", "all-prices"), 2u);  // non-persistent ones too, as ActiveMQ keeps them
  client back = connected("client-id:billing\n");
  back.send("SUBSCRIBE\nid:d\ndestination:/topic/prices\nactivemq.subscriptionName:all-prices\n\n\0"s, now);
  const auto kept = back.frames(now);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].body, "101");
  EXPECT_EQ(kept[1].body, "102");
  back.send("UNSUBSCRIBE\nid:d\n\n\0UNSUBSCRIBE\nid:d\nactivemq.subscriptionName:all-prices\nreceipt:r\n\n\0"s, now);
  EXPECT_EQ(back.only(now).command, "RECEIPT");
  EXPECT_EQ(core.subscription_depth("billing", "all-prices"), 0u);
  back.send("SUBSCRIBE\nid:q\ndestination:/queue/x\nactivemq.subscriptionName:n\n\n\0"s, now);
  EXPECT_EQ(back.only(now).get("message"), "Invalid Subscription: cannot durably subscribe to a Queue destination!");
}

TEST_F(stomp_connection_test, selectors_filter_and_a_bad_one_is_an_error_the_connection_survives) {
  client c = connected();
  c.send("SUBSCRIBE\nid:red\ndestination:/queue/cars\nselector:color = 'red' AND weight > 1000\n\n\0"s, now);
  c.send("SUBSCRIBE\nid:bad\ndestination:/queue/cars\nselector:color = = 'red'\n\n\0"s, now);
  const frame e = c.only(now);
  EXPECT_EQ(e.command, "ERROR");
  EXPECT_NE(e.get("message")->find("InvalidSelectorException"), std::string::npos);
  EXPECT_FALSE(c.conn->done());
  client p = connected();
  // Custom headers are string properties, so a numeric comparison on them is unknown (false).
  p.send("SEND\ndestination:/queue/cars\ncolor:red\nweight:1500\n\nstring weight\0SEND\ndestination:/queue/cars\ncolor:blue\n\nblue\0"s, now);
  EXPECT_TRUE(c.frames(now).empty());
  EXPECT_EQ(core.queue_depth("cars"), 2u);
}

TEST_F(stomp_connection_test, a_browser_sees_the_queue_then_an_end_marker_and_takes_nothing) {
  client c = connected();
  c.send("SEND\ndestination:/queue/q\n\nfirst\0SEND\ndestination:/queue/q\n\nsecond\0"
         "SUBSCRIBE\nid:look\ndestination:/queue/q\nbrowser:true\n\n\0"s, now);
  const auto fs = c.frames(now);
  ASSERT_EQ(fs.size(), 3u);
  EXPECT_EQ(fs[0].body, "first");
  EXPECT_EQ(fs[1].body, "second");
  EXPECT_EQ(fs[2].get("browser"), "end");
  EXPECT_EQ(fs[2].get("message-id"), "0");
  EXPECT_EQ(core.queue_depth("q"), 2u);
}

TEST_F(stomp_connection_test, a_subscribe_receipt_comes_before_the_first_message) {
  client c = connected();
  c.send("SEND\ndestination:/queue/q\n\nwaiting\0SUBSCRIBE\nid:s\ndestination:/queue/q\nreceipt:sub\n\n\0"s, now);
  const auto fs = c.frames(now);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].command, "RECEIPT");
  EXPECT_EQ(fs[1].body, "waiting");
}

TEST_F(stomp_connection_test, message_groups_and_virtual_topics_work_through_stomp_headers) {
  client a = connected();
  client b = connected();
  a.send("SUBSCRIBE\nid:a\ndestination:/queue/Consumer.A.VirtualTopic.orders\n\n\0"s, now);
  b.send("SUBSCRIBE\nid:b\ndestination:/queue/Consumer.A.VirtualTopic.orders\n\n\0"s, now);
  client p = connected();
  for (int i = 0; i < 4; ++i) {
    p.send("SEND\ndestination:/topic/VirtualTopic.orders\nJMSXGroupID:customer-" + std::to_string(i % 2) + "\n\n" +
               std::to_string(i) + '\0',
           now);
  }
  std::vector<std::string> got_a, got_b;
  for (const auto& f : a.frames(now)) got_a.push_back(f.body);
  for (const auto& f : b.frames(now)) got_b.push_back(f.body);
  EXPECT_EQ(got_a, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(got_b, (std::vector<std::string>{"1", "3"}));
}

TEST_F(stomp_connection_test, heart_beats_are_sent_when_owed_and_a_silent_client_is_dropped) {
  client c = open();
  c.send("CONNECT\naccept-version:1.2\nheart-beat:1000,500\n\n\0"s, now);
  c.frames(now);
  c.conn->tick({now.ns + 249 * ms});
  EXPECT_TRUE(c.conn->output().empty());
  c.conn->tick({now.ns + 250 * ms});  // owed every 500 ms, sent after half of that in silence
  EXPECT_EQ(c.conn->output(), "\n");
  // Ticked again before the beat was written (a frame arrived): still one beat, and the next
  // tick is due a beat interval on, not at once.
  EXPECT_EQ(c.conn->tick({now.ns + 260 * ms}).ns, now.ns + 500 * ms);
  EXPECT_EQ(c.conn->output(), "\n");
  c.frames({now.ns + 250 * ms});
  c.send("\n", {now.ns + 900 * ms});  // the client's beat
  c.conn->tick({now.ns + 2399 * ms});
  EXPECT_FALSE(c.conn->done());
  c.conn->tick({now.ns + 2400 * ms});  // 1.5 x 1000 ms after its last beat
  EXPECT_TRUE(c.conn->done());

  client silent = open();
  silent.conn->tick({now.ns + 30'000 * ms});
  EXPECT_TRUE(silent.conn->done());
  EXPECT_EQ(silent.conn->end_reason(), "no CONNECT frame within 30000 ms");
}

TEST_F(stomp_connection_test, a_dropped_connection_returns_unacknowledged_messages_redelivered) {
  client c = connected();
  c.send("SUBSCRIBE\nid:s\ndestination:/queue/q\nack:client\n\n\0SEND\ndestination:/queue/q\n\nx\0"s, now);
  c.frames(now);
  c.conn->closed(now);
  client d = connected();
  d.send("SUBSCRIBE\nid:s\ndestination:/queue/q\n\n\0"s, now);
  EXPECT_EQ(d.only(now).get("redelivered"), "true");
}

TEST_F(stomp_connection_test, limits_on_subscriptions_and_transactions_refuse_without_closing) {
  jms::broker small_core;
  service small{small_core, {.max_subscriptions = 2, .max_transactions = 1, .max_transaction_bytes = 4}};
  client c{std::make_unique<connection>(small, true, now), decoder{}};
  c.in.set_version(version::v1_2);
  c.send("CONNECT\naccept-version:1.2\n\n\0"s, now);
  c.frames(now);
  c.send("SUBSCRIBE\nid:1\ndestination:a\n\n\0SUBSCRIBE\nid:2\ndestination:a\n\n\0SUBSCRIBE\nid:3\ndestination:a\n\n\0"
         "SUBSCRIBE\nid:1\ndestination:b\n\n\0BEGIN\ntransaction:x\n\n\0BEGIN\ntransaction:y\n\n\0"
         "SEND\ndestination:a\ntransaction:x\n\n12345\0"s, now);
  const auto fs = c.frames(now);
  ASSERT_EQ(fs.size(), 4u);
  EXPECT_EQ(fs[0].get("message"), "Too many subscriptions on one connection (at most 2)");
  EXPECT_EQ(fs[1].get("message"), "Duplicate subscription id: 1");
  EXPECT_EQ(fs[2].get("message"), "Too many open transactions on one connection (at most 1)");
  EXPECT_EQ(fs[3].get("message"), "Transaction x would hold more than 4 bytes");
  EXPECT_FALSE(c.conn->done());
}

}  // namespace
}  // namespace mqlab::net::stomp
