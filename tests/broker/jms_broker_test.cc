// The JMS core against the seed's ActiveMQ notes and ActiveMQ 5's documented behaviour: queues
// vs topics, durable subscribers, selectors, QoS and priorities, the five acknowledge modes,
// prefetch policies, virtual topics, redelivery and the DLQ.
#include <gtest/gtest.h>

#include "broker/jms/broker.h"

namespace mqlab::broker::jms {
namespace {

constexpr instant t0{};
constexpr std::int64_t ms = 1'000'000;

message_spec text(std::string s, property_map props = {}) {
  message_spec m;
  m.content = text_body{std::move(s)};
  m.properties = std::move(props);
  return m;
}

std::string body_of(const delivery& d) { return std::get<text_body>(d.msg->spec.content).text; }

class jms_test : public ::testing::Test {
 protected:
  std::optional<broker> store{std::in_place};
  broker& b = *store;  // reset() re-emplaces in the same storage, so the reference stays valid
  instant now = t0;

  void reset(broker_config config) { store.emplace(config); }

  session_id session(ack_mode mode = ack_mode::auto_acknowledge, connection_options o = {}) {
    const connection_id c = b.connect(std::move(o), now).value();
    return b.create_session(c, mode).value();
  }
  consumer_id consume(session_id s, destination_kind kind, std::string dest, std::string selector = "",
                      std::optional<std::uint32_t> prefetch = std::nullopt) {
    auto r = b.create_consumer(s, {.kind = kind, .destination = std::move(dest), .selector = std::move(selector), .prefetch = prefetch}, now);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().text);
    return r.value_or(0);
  }
  void send(session_id s, destination_kind kind, std::string dest, message_spec m, producer_qos qos = {}) {
    auto r = b.send(s, kind, dest, std::move(m), qos, now);
    ASSERT_TRUE(r.has_value()) << r.error().text;
  }
  std::vector<std::string> bodies(const std::vector<delivery>& ds) {
    std::vector<std::string> out;
    for (const auto& d : ds) out.push_back(body_of(d));
    return out;
  }
  std::map<consumer_id, std::vector<std::string>> by_consumer() {
    std::map<consumer_id, std::vector<std::string>> out;
    for (const auto& d : b.take_deliveries()) out[d.consumer].push_back(body_of(d));
    return out;
  }
};

TEST_F(jms_test, queue_gives_each_message_to_one_consumer_and_is_created_on_first_use) {
  const session_id s = session();
  EXPECT_FALSE(b.exists(destination_kind::queue, "orders"));
  const consumer_id a = consume(s, destination_kind::queue, "orders");
  const consumer_id c = consume(s, destination_kind::queue, "orders");
  EXPECT_TRUE(b.exists(destination_kind::queue, "orders"));
  for (int i = 0; i < 4; ++i) send(s, destination_kind::queue, "orders", text("o" + std::to_string(i)));
  auto got = by_consumer();
  EXPECT_EQ(got[a], (std::vector<std::string>{"o0", "o2"}));
  EXPECT_EQ(got[c], (std::vector<std::string>{"o1", "o3"}));
}

TEST_F(jms_test, topic_gives_every_active_subscriber_every_message_and_late_subscribers_miss_earlier_ones) {
  const session_id s = session();
  const consumer_id a = consume(s, destination_kind::topic, "prices");
  send(s, destination_kind::topic, "prices", text("p1"));
  const consumer_id late = consume(s, destination_kind::topic, "prices");
  send(s, destination_kind::topic, "prices", text("p2"));
  auto got = by_consumer();
  EXPECT_EQ(got[a], (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(got[late], (std::vector<std::string>{"p2"}));
}

TEST_F(jms_test, durable_subscriber_gets_what_was_sent_while_offline_and_a_non_durable_one_does_not) {
  const connection_id durable_conn = b.connect({.client_id = "reporting"}, now).value();
  session_id ds = b.create_session(durable_conn, ack_mode::auto_acknowledge).value();
  const session_id plain = session();
  const session_id producer = session();
  auto sub = b.create_consumer(ds, {.kind = destination_kind::topic, .destination = "news", .subscription_name = "daily"}, now);
  ASSERT_TRUE(sub);
  const consumer_id nd = consume(plain, destination_kind::topic, "news");
  b.close_consumer(*sub, now);
  b.close_consumer(nd, now);
  send(producer, destination_kind::topic, "news", text("while away"));
  send(producer, destination_kind::topic, "news", text("also kept"), {.mode = delivery_mode::non_persistent});
  // ActiveMQ 5.17 keeps non-persistent messages for an offline durable subscriber too (its
  // differential transcript shows it); only a broker restart would lose them.
  EXPECT_EQ(b.subscription_depth("reporting", "daily"), 2u);
  b.take_deliveries();
  auto back = b.create_consumer(ds, {.kind = destination_kind::topic, .destination = "news", .subscription_name = "daily"}, now);
  ASSERT_TRUE(back);
  const consumer_id nd2 = consume(plain, destination_kind::topic, "news");
  auto got = by_consumer();
  EXPECT_EQ(got[*back], (std::vector<std::string>{"while away", "also kept"}));
  EXPECT_TRUE(got[nd2].empty());
  EXPECT_EQ(b.stats(destination_kind::topic, "news").dropped, 0u);
}

TEST_F(jms_test, durable_subscriptions_need_a_unique_client_id_and_unsubscribe_only_when_inactive) {
  const session_id anonymous = session();
  auto no_id = b.create_consumer(anonymous, {.kind = destination_kind::topic, .destination = "t", .subscription_name = "s"}, now);
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().code, error_code::illegal_state);
  const connection_id c = b.connect({.client_id = "app"}, now).value();
  auto twin = b.connect({.client_id = "app"}, now);
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code, error_code::invalid_client_id);
  const session_id s = b.create_session(c, ack_mode::auto_acknowledge).value();
  const consumer_id sub = b.create_consumer(s, {.kind = destination_kind::topic, .destination = "t", .subscription_name = "s"}, now).value();
  EXPECT_EQ(b.unsubscribe(c, "s").error().code, error_code::illegal_state);
  b.close_consumer(sub, now);
  EXPECT_TRUE(b.unsubscribe(c, "s"));
  EXPECT_EQ(b.unsubscribe(c, "s").error().code, error_code::invalid_destination);
}

TEST_F(jms_test, selectors_filter_per_consumer_and_bad_ones_name_the_column) {
  const session_id s = session();
  const consumer_id red = consume(s, destination_kind::queue, "cars", "color = 'red' AND weight > 1000");
  send(s, destination_kind::queue, "cars", text("blue car", {{"color", std::string("blue")}, {"weight", 1500}}));
  send(s, destination_kind::queue, "cars", text("red car", {{"color", std::string("red")}, {"weight", std::int64_t{1500}}}));
  send(s, destination_kind::queue, "cars", text("red bike", {{"color", std::string("red")}, {"weight", 12.5}}));
  EXPECT_EQ(by_consumer()[red], (std::vector<std::string>{"red car"}));
  EXPECT_EQ(b.queue_depth("cars"), 2u);  // the others wait for a consumer that wants them
  auto bad = b.create_consumer(s, {.kind = destination_kind::queue, .destination = "cars", .selector = "color = = 'red'"}, now);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, error_code::invalid_selector);
  EXPECT_NE(bad.error().text.find("column 9"), std::string::npos) << bad.error().text;
}

TEST_F(jms_test, backlog_is_served_in_arrival_order_by_default_as_activemq_does) {
  // prioritizedMessages=false is ActiveMQ's default destination policy: JMSPriority is carried
  // but does not reorder a backlog.
  const session_id s = session();
  send(s, destination_kind::queue, "jobs", text("low"), {.priority = 1});
  send(s, destination_kind::queue, "jobs", text("urgent"), {.priority = 9});
  send(s, destination_kind::queue, "jobs", text("normal"));
  consume(s, destination_kind::queue, "jobs");
  const auto ds = b.take_deliveries();
  EXPECT_EQ(bodies(ds), (std::vector<std::string>{"low", "urgent", "normal"}));
  EXPECT_EQ(ds[1].msg->priority, 9);
}

TEST_F(jms_test, backlog_is_served_by_priority_and_qos_applies_only_when_explicit) {
  b.set_prioritized_messages(destination_kind::queue, "jobs", true);
  const session_id s = session();
  send(s, destination_kind::queue, "jobs", text("low"), {.priority = 1});
  send(s, destination_kind::queue, "jobs", text("urgent"), {.priority = 9});
  send(s, destination_kind::queue, "jobs", text("ignored qos"), {.priority = 9, .explicit_qos_enabled = false});
  send(s, destination_kind::queue, "jobs", text("normal"));
  const consumer_id c = consume(s, destination_kind::queue, "jobs");
  const auto ds = b.take_deliveries();
  EXPECT_EQ(bodies(ds), (std::vector<std::string>{"urgent", "ignored qos", "normal", "low"}));
  EXPECT_EQ(ds[1].msg->priority, 4);
  EXPECT_EQ(ds[1].msg->lookup("JMSPriority"), value{std::int64_t{4}});
  (void)c;
}

TEST_F(jms_test, expired_messages_are_not_delivered_and_persistent_ones_go_to_the_dlq) {
  const session_id s = session();
  send(s, destination_kind::queue, "q", text("persistent"), {.time_to_live_ms = 100});
  send(s, destination_kind::queue, "q", text("transient"), {.mode = delivery_mode::non_persistent, .time_to_live_ms = 100});
  EXPECT_EQ(b.next_deadline().ns, 100 * ms);
  now = {100 * ms};
  b.advance(now);
  EXPECT_EQ(b.queue_depth("q"), 0u);
  EXPECT_EQ(b.stats(destination_kind::queue, "q").expired, 2u);
  EXPECT_EQ(b.queue_depth("ActiveMQ.DLQ"), 1u);
  consume(s, destination_kind::queue, "ActiveMQ.DLQ");
  const auto ds = b.take_deliveries();
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(body_of(ds[0]), "persistent");
  EXPECT_EQ(ds[0].msg->lookup("dlqDeliveryFailureCause"), value{std::string("expired")});
}

TEST_F(jms_test, client_acknowledge_settles_every_earlier_message_of_the_session) {
  const session_id s = session(ack_mode::client_acknowledge);
  const consumer_id c = consume(s, destination_kind::queue, "q");
  for (int i = 0; i < 4; ++i) send(s, destination_kind::queue, "q", text(std::to_string(i)));
  const auto ds = b.take_deliveries();
  ASSERT_TRUE(b.acknowledge(s, ds[2].delivery_id, now));
  EXPECT_EQ(b.outstanding(c), 1u);
  EXPECT_EQ(b.stats(destination_kind::queue, "q").acknowledged, 3u);
}

TEST_F(jms_test, individual_acknowledge_settles_exactly_one) {
  const session_id s = session(ack_mode::individual_acknowledge);
  const consumer_id c = consume(s, destination_kind::queue, "q");
  for (int i = 0; i < 4; ++i) send(s, destination_kind::queue, "q", text(std::to_string(i)));
  const auto ds = b.take_deliveries();
  ASSERT_TRUE(b.acknowledge(s, ds[2].delivery_id, now));
  EXPECT_EQ(b.outstanding(c), 3u);
  b.close_session(s, now);  // the three unacknowledged go back
  EXPECT_EQ(b.queue_depth("q"), 3u);
}

TEST_F(jms_test, transacted_session_holds_sends_until_commit_and_rollback_redelivers) {
  const session_id tx = session(ack_mode::session_transacted);
  send(tx, destination_kind::queue, "q", text("held"));
  EXPECT_EQ(b.queue_depth("q"), 0u);
  ASSERT_TRUE(b.commit(tx, now));
  EXPECT_EQ(b.queue_depth("q"), 1u);

  reset({.redelivery = {.initial_redelivery_delay_ms = 0}});
  const session_id s = session(ack_mode::session_transacted);
  consume(s, destination_kind::queue, "q");
  send(s, destination_kind::queue, "q", text("work"));
  ASSERT_TRUE(b.commit(s, now));
  auto first = b.take_deliveries();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(b.acknowledge(s, first[0].delivery_id, now));
  ASSERT_TRUE(b.rollback(s, now));
  auto again = b.take_deliveries();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].redelivered);
  EXPECT_EQ(again[0].delivery_count, 2u);
  ASSERT_TRUE(b.acknowledge(s, again[0].delivery_id, now));
  ASSERT_TRUE(b.commit(s, now));
  EXPECT_EQ(b.stats(destination_kind::queue, "q").acknowledged, 1u);
}

TEST_F(jms_test, dups_ok_acknowledges_lazily_so_a_failure_redelivers_duplicates) {
  const session_id s = session(ack_mode::dups_ok_acknowledge);
  consume(s, destination_kind::queue, "q", "", 10);  // acks go in batches of 5
  for (int i = 0; i < 7; ++i) send(s, destination_kind::queue, "q", text(std::to_string(i)));
  for (const auto& d : b.take_deliveries()) ASSERT_TRUE(b.acknowledge(s, d.delivery_id, now));
  EXPECT_EQ(b.stats(destination_kind::queue, "q").acknowledged, 5u);
  b.close_session(s, now);  // the application processed 5 and 6, but the broker never heard
  EXPECT_EQ(b.queue_depth("q"), 2u);
}

TEST_F(jms_test, prefetch_policies_follow_activemq_defaults_and_the_seeds_settings) {
  const session_id s = session();
  const consumer_id q = consume(s, destination_kind::queue, "q");
  for (int i = 0; i < 1100; ++i) send(s, destination_kind::queue, "q", text("m"));
  EXPECT_EQ(b.outstanding(q), 1000u);

  const auto all50 = prefetch_policy::from_url("tcp://localhost:61616?jms.prefetchPolicy.all=50").value();
  EXPECT_EQ(all50.queue, 50u);
  EXPECT_EQ(all50.topic, 50u);
  EXPECT_EQ(all50.durable_topic, 50u);
  const auto queue1 = prefetch_policy::from_url("tcp://localhost:61616?jms.prefetchPolicy.queuePrefetch=1").value();
  EXPECT_EQ(queue1.queue, 1u);
  EXPECT_EQ(queue1.topic, 32766u);
  EXPECT_FALSE(prefetch_policy::from_url("tcp://x?jms.prefetchPolicy.all=lots"));

  const session_id s1 = session(ack_mode::auto_acknowledge, {.prefetch = queue1});
  const consumer_id one = consume(s1, destination_kind::queue, "p");
  const consumer_id ten = consume(s1, destination_kind::queue, "p2?consumer.prefetchSize=10");
  for (int i = 0; i < 20; ++i) {
    send(s1, destination_kind::queue, "p", text("m"));
    send(s1, destination_kind::queue, "p2", text("m"));
  }
  EXPECT_EQ(b.outstanding(one), 1u);
  EXPECT_EQ(b.outstanding(ten), 10u);

  const connection_id dc = b.connect({.client_id = "d"}, now).value();
  const session_id ds = b.create_session(dc, ack_mode::client_acknowledge).value();
  const consumer_id durable = b.create_consumer(ds, {.kind = destination_kind::topic, .destination = "t", .subscription_name = "n"}, now).value();
  const consumer_id plain = consume(ds, destination_kind::topic, "t");
  for (int i = 0; i < 200; ++i) send(s, destination_kind::topic, "t", text("m"));
  EXPECT_EQ(b.outstanding(durable), 100u);
  EXPECT_EQ(b.outstanding(plain), 200u);
}

TEST_F(jms_test, prefetch_zero_consumers_only_get_what_they_pull) {
  const session_id s = session();
  const consumer_id c = consume(s, destination_kind::queue, "q", "", 0);
  send(s, destination_kind::queue, "q", text("a"));
  send(s, destination_kind::queue, "q", text("b"));
  EXPECT_TRUE(b.take_deliveries().empty());
  ASSERT_TRUE(b.pull(c, now));
  EXPECT_EQ(bodies(b.take_deliveries()), (std::vector<std::string>{"a"}));
  ASSERT_TRUE(b.pull(c, now));
  ASSERT_TRUE(b.pull(c, now));  // asking twice is still one message
  EXPECT_EQ(bodies(b.take_deliveries()), (std::vector<std::string>{"b"}));
  ASSERT_TRUE(b.pull(c, now));  // nothing there: the request waits for the next message
  send(s, destination_kind::queue, "q", text("c"));
  EXPECT_EQ(bodies(b.take_deliveries()), (std::vector<std::string>{"c"}));
}

TEST_F(jms_test, virtual_topic_is_a_topic_between_groups_and_a_queue_within_one) {
  const session_id s = session();
  const consumer_id a1 = consume(s, destination_kind::queue, "Consumer.A.VirtualTopic.Orders");
  const consumer_id a2 = consume(s, destination_kind::queue, "Consumer.A.VirtualTopic.Orders");
  const consumer_id b1 = consume(s, destination_kind::queue, "Consumer.B.VirtualTopic.Orders");
  for (int i = 0; i < 4; ++i) send(s, destination_kind::topic, "VirtualTopic.Orders", text("o" + std::to_string(i)));
  auto got = by_consumer();
  EXPECT_EQ(got[a1].size() + got[a2].size(), 4u);
  EXPECT_EQ(got[a1].size(), 2u);
  EXPECT_EQ(got[b1], (std::vector<std::string>{"o0", "o1", "o2", "o3"}));
}

TEST_F(jms_test, redelivery_policy_delays_then_dead_letters_with_the_delivery_count) {
  reset({.redelivery = {.maximum_redeliveries = 2, .initial_redelivery_delay_ms = 1000, .backoff_multiplier = 5,
                        .use_exponential_backoff = true},
         .dead_letter = {.individual = true}});
  const session_id s = session(ack_mode::client_acknowledge);
  consume(s, destination_kind::queue, "payments");
  send(s, destination_kind::queue, "payments", text("poison"));
  std::vector<std::uint32_t> counts;
  std::vector<std::int64_t> at_ms;
  for (int round = 0; round < 3; ++round) {
    auto ds = b.take_deliveries();
    ASSERT_EQ(ds.size(), 1u) << round;
    counts.push_back(ds[0].delivery_count);
    at_ms.push_back(now.ns / ms);
    ASSERT_TRUE(b.recover(s, now));
    if (b.next_deadline() == instant::never()) break;
    now = b.next_deadline();
    b.advance(now);
  }
  EXPECT_EQ(counts, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(at_ms, (std::vector<std::int64_t>{0, 1000, 6000}));  // 1 s, then 1 s x 5
  EXPECT_EQ(b.queue_depth("ActiveMQ.DLQ.Queue.payments"), 1u);
  EXPECT_EQ(b.stats(destination_kind::queue, "payments").dead_lettered, 1u);
}


TEST_F(jms_test, a_listener_that_throws_gets_its_message_back_while_the_prefetched_ones_wait_untouched) {
  // ActiveMQ's default policy: 6 redeliveries 1 s apart, then ActiveMQ.DLQ; the consumer's
  // prefetched messages are not part of the failed delivery and are not redelivered.
  const session_id s = session(ack_mode::auto_acknowledge);
  consume(s, destination_kind::queue, "orders");
  for (const char* body : {"poison", "ok-1", "ok-2"}) send(s, destination_kind::queue, "orders", text(body));
  auto first = b.take_deliveries();
  ASSERT_EQ(bodies(first), (std::vector<std::string>{"poison", "ok-1", "ok-2"}));
  std::uint64_t failing = first[0].delivery_id;
  std::vector<std::int64_t> back_at_ms;
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(b.redeliver(s, failing, now));
    if (b.next_deadline() == instant::never()) break;
    now = b.next_deadline();
    b.advance(now);
    auto again = b.take_deliveries();
    ASSERT_EQ(again.size(), 1u) << round;
    EXPECT_EQ(body_of(again[0]), "poison");
    EXPECT_TRUE(again[0].redelivered);
    back_at_ms.push_back(now.ns / ms);
    failing = again[0].delivery_id;
  }
  EXPECT_EQ(back_at_ms, (std::vector<std::int64_t>{1000, 2000, 3000, 4000, 5000, 6000}));
  EXPECT_EQ(b.queue_depth("ActiveMQ.DLQ"), 1u);
  EXPECT_EQ(b.stats(destination_kind::queue, "orders").dead_lettered, 1u);
  EXPECT_EQ(b.outstanding(first[1].consumer), 2u) << "ok-1 and ok-2 are still held, never redelivered";
}
TEST_F(jms_test, no_local_subscriber_skips_its_own_connections_messages) {
  const session_id s = session();
  const session_id other = session();
  const consumer_id c = b.create_consumer(s, {.kind = destination_kind::topic, .destination = "chat", .no_local = true}, now).value();
  send(s, destination_kind::topic, "chat", text("mine"));
  send(other, destination_kind::topic, "chat", text("theirs"));
  EXPECT_EQ(by_consumer()[c], (std::vector<std::string>{"theirs"}));
}

TEST_F(jms_test, closing_a_consumer_hands_its_unacknowledged_messages_to_another) {
  const session_id s1 = session(ack_mode::client_acknowledge);
  const session_id s2 = session(ack_mode::client_acknowledge);
  const consumer_id first = consume(s1, destination_kind::queue, "q");
  send(s1, destination_kind::queue, "q", text("job"));
  b.take_deliveries();
  const consumer_id second = consume(s2, destination_kind::queue, "q");
  b.close_consumer(first, now);
  now = {1000 * ms};
  b.advance(now);
  const auto ds = b.take_deliveries();
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].consumer, second);
  EXPECT_TRUE(ds[0].redelivered);
}

}  // namespace
}  // namespace mqlab::broker::jms

namespace mqlab::broker::jms {
namespace {

TEST_F(jms_test, a_poison_ack_dead_letters_at_once_and_drops_a_non_persistent_message) {
  const session_id s = session(ack_mode::individual_acknowledge);
  consume(s, destination_kind::queue, "q");
  send(s, destination_kind::queue, "q", text("persistent"));
  send(s, destination_kind::queue, "q", text("transient"), {.mode = delivery_mode::non_persistent});
  const auto ds = b.take_deliveries();
  ASSERT_EQ(ds.size(), 2u);
  ASSERT_TRUE(b.poison(s, ds[0].delivery_id, "NACK from the client", now));
  ASSERT_TRUE(b.poison(s, ds[1].delivery_id, "NACK from the client", now));
  EXPECT_EQ(b.stats(destination_kind::queue, "q").dead_lettered, 1u);  // no redelivery first
  EXPECT_EQ(b.stats(destination_kind::queue, "q").dropped, 1u);
  EXPECT_EQ(b.queue_depth("q"), 0u);
  const session_id reader = session();
  consume(reader, destination_kind::queue, "ActiveMQ.DLQ");
  const auto dead = b.take_deliveries();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(body_of(dead[0]), "persistent");
  EXPECT_EQ(dead[0].msg->lookup("dlqDeliveryFailureCause"), value{std::string("NACK from the client")});
}

TEST_F(jms_test, a_browser_sees_the_backlog_in_dispatch_order_without_taking_it) {
  const session_id s = session();
  send(s, destination_kind::queue, "q", text("first"));
  send(s, destination_kind::queue, "q", text("second"), {.time_to_live_ms = 10});
  send(s, destination_kind::queue, "q", text("third"));
  std::vector<std::string> seen;
  for (const auto& m : b.browse("q", {20 * ms})) seen.push_back(std::get<text_body>(m->spec.content).text);
  EXPECT_EQ(seen, (std::vector<std::string>{"first", "third"}));  // the expired one is not shown
  EXPECT_EQ(b.queue_depth("q"), 3u);
  EXPECT_TRUE(b.browse("nothing", now).empty());
}

TEST_F(jms_test, message_groups_pin_each_group_to_one_consumer_until_it_closes) {
  const session_id s = session();
  const consumer_id a = consume(s, destination_kind::queue, "orders");
  const consumer_id c = consume(s, destination_kind::queue, "orders");
  for (int i = 0; i < 6; ++i) {
    const std::string group = i % 2 == 0 ? "customer-1" : "customer-2";
    send(s, destination_kind::queue, "orders", text(group + "#" + std::to_string(i), {{"JMSXGroupID", group}}));
  }
  auto got = by_consumer();
  EXPECT_EQ(got[a], (std::vector<std::string>{"customer-1#0", "customer-1#2", "customer-1#4"}));
  EXPECT_EQ(got[c], (std::vector<std::string>{"customer-2#1", "customer-2#3", "customer-2#5"}));
  // a closes without acknowledging: its group moves to c, the returned messages first, in order.
  b.close_consumer(a, now);
  send(s, destination_kind::queue, "orders", text("customer-1#6", {{"JMSXGroupID", std::string("customer-1")}}));
  EXPECT_EQ(by_consumer()[c], (std::vector<std::string>{"customer-1#0", "customer-1#2", "customer-1#4", "customer-1#6"}));
}

TEST_F(jms_test, an_absolute_expiration_replaces_the_time_to_live) {
  const session_id s = session();
  send(s, destination_kind::queue, "q", text("x"), {.time_to_live_ms = 1000, .expiration_ms = 50});
  EXPECT_EQ(b.next_deadline().ns, 50 * ms);
}

}  // namespace
}  // namespace mqlab::broker::jms
