// Consuming and acknowledging, as the seed's RabbitMQ sections describe them: round-robin work
// queues, prefetch, ack/nack/reject, confirms and returns, priorities, TTL and dead letters.
#include "amqp_fixture.h"

namespace mqlab::broker::amqp::testing {
namespace {

class delivery_test : public amqp_test {
 protected:
  void set_prefetch(std::uint16_t n, channel_ref on, bool global = false) {
    ASSERT_TRUE(b.basic_qos(on, n, global, now).has_value());
  }
};

TEST_F(delivery_test, registration_is_handed_off_and_consumed) {
  // Registration writes the user, publishes "send mail + sms", returns at once; a worker consumes.
  declare_queue("notify");
  publish("", "notify", "user-42");
  EXPECT_EQ(ready("notify"), 1u);
  consume("notify");
  const auto d = deliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].msg->body(), "user-42");
  EXPECT_EQ(d[0].delivery_tag, 1u);
  EXPECT_FALSE(d[0].redelivered);
  EXPECT_EQ(b.inspect_queue("/", "notify")->unacked, 1u);
  ASSERT_TRUE(b.basic_ack(ch, 1, false, now).has_value());
  EXPECT_EQ(b.inspect_queue("/", "notify")->unacked, 0u);
}

TEST_F(delivery_test, work_queue_is_round_robin_between_consumers) {
  declare_queue("tasks");
  const auto c2 = open_channel(conn, 2);
  const auto a = consume("tasks");
  const auto b2 = consume("tasks", c2);
  for (int i = 0; i < 6; ++i) publish("", "tasks", std::to_string(i));
  const auto d = deliveries();
  ASSERT_EQ(d.size(), 6u);
  for (std::size_t i = 0; i < d.size(); ++i) EXPECT_EQ(*d[i].consumer_tag, i % 2 == 0 ? a : b2) << i;
}

TEST_F(delivery_test, delivery_tags_are_per_channel_and_start_at_one) {
  declare_queue("q");
  const auto c2 = open_channel(conn, 2);
  consume("q");
  consume("q", c2);
  for (int i = 0; i < 4; ++i) publish("", "q", "m");
  std::vector<std::uint64_t> ch1, ch2;
  for (const auto& d : deliveries()) (d.to.ch == 1 ? ch1 : ch2).push_back(d.delivery_tag);
  EXPECT_EQ(ch1, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(ch2, (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(delivery_test, prefetch_one_gives_fair_dispatch_to_the_fast_consumer) {
  // spring.rabbitmq.listener.simple.prefetch=1: a busy consumer gets no second message until it acks.
  declare_queue("q");
  const auto slow = open_channel(conn, 2);
  const auto fast = open_channel(conn, 3);
  set_prefetch(1, slow);
  set_prefetch(1, fast);
  consume("q", slow);
  consume("q", fast);
  for (int i = 0; i < 4; ++i) publish("", "q", std::to_string(i));
  auto d = deliveries();
  ASSERT_EQ(d.size(), 2u);  // one each; two wait in the queue
  EXPECT_EQ(ready("q"), 2u);
  // The fast consumer acks twice and receives both remaining messages; the slow one still works.
  const auto fast_first = d[0].to == fast ? d[0] : d[1];
  ASSERT_TRUE(b.basic_ack(fast, fast_first.delivery_tag, false, now).has_value());
  d = deliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].to, fast);
  ASSERT_TRUE(b.basic_ack(fast, d[0].delivery_tag, false, now).has_value());
  d = deliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].to, fast);
}

TEST_F(delivery_test, global_prefetch_is_shared_by_the_channel) {
  declare_queue("a");
  declare_queue("b");
  set_prefetch(3, ch, true);
  consume("a");
  consume("b");
  for (int i = 0; i < 5; ++i) {
    publish("", "a", "x");
    publish("", "b", "y");
  }
  EXPECT_EQ(deliveries().size(), 3u);
}

TEST_F(delivery_test, ack_multiple_acknowledges_everything_up_to_the_tag) {
  declare_queue("q");
  consume("q");
  for (int i = 0; i < 5; ++i) publish("", "q", std::to_string(i));
  ASSERT_EQ(deliveries().size(), 5u);
  ASSERT_TRUE(b.basic_ack(ch, 3, true, now).has_value());
  EXPECT_EQ(b.inspect_queue("/", "q")->unacked, 2u);
  // Acking 2 again is an unknown tag: 406 and the channel closes, requeueing 4 and 5.
  auto r = b.basic_ack(ch, 2, false, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().text, "PRECONDITION_FAILED - unknown delivery tag 2");
  EXPECT_EQ(ready("q"), 2u);
}

TEST_F(delivery_test, reject_with_requeue_puts_the_message_back_in_its_place) {
  declare_queue("q");
  for (int i = 1; i <= 3; ++i) publish("", "q", std::to_string(i));
  auto first = b.basic_get(ch, "q", false, now).value().value();
  EXPECT_EQ(first.message_count, 2u);
  ASSERT_TRUE(b.basic_reject(ch, first.delivery_tag, true, now).has_value());
  auto again = b.basic_get(ch, "q", true, now).value().value();
  EXPECT_EQ(again.msg->body(), "1");  // back at the head, not the tail
  EXPECT_TRUE(again.redelivered);
  EXPECT_EQ(b.basic_get(ch, "q", true, now).value().value().msg->body(), "2");
  EXPECT_EQ(b.basic_get(ch, "q", true, now).value().value().msg->body(), "3");
  EXPECT_FALSE(b.basic_get(ch, "q", true, now).value().has_value());  // get-empty
}

TEST_F(delivery_test, nack_multiple_requeues_all_and_they_are_redelivered) {
  declare_queue("q");
  for (int i = 1; i <= 3; ++i) publish("", "q", std::to_string(i));
  consume("q");
  ASSERT_EQ(deliveries().size(), 3u);
  ASSERT_TRUE(b.basic_nack(ch, 3, true, true, now).has_value());
  const auto d = deliveries();
  ASSERT_EQ(d.size(), 3u);
  for (const auto& x : d) EXPECT_TRUE(x.redelivered);
  EXPECT_EQ(d[0].msg->body(), "1");
  EXPECT_EQ(d[0].delivery_tag, 4u);
}

TEST_F(delivery_test, consumer_death_requeues_unacked_to_the_other_consumer) {
  // "如果一个消费者在尚未发送确认回执的情况下挂掉了，那么消息会被重新放入队列 ... 立即投递给另外一个消费者"
  declare_queue("q");
  const auto dying = b.open_connection("/", now).value();
  const auto dch = open_channel(dying, 1);
  const auto survivor = open_channel(conn, 2);
  set_prefetch(1, dch);
  set_prefetch(1, survivor);
  consume("q", dch);
  consume("q", survivor);
  publish("", "q", "a");
  publish("", "q", "b");
  publish("", "q", "c");
  auto d = deliveries();
  ASSERT_EQ(d.size(), 2u);
  const auto to_dying = d[0].to == dch ? d[0] : d[1];
  b.close_connection(dying, now);  // the consumer dies without acking
  ASSERT_TRUE(b.basic_ack(survivor, (d[0].to == survivor ? d[0] : d[1]).delivery_tag, false, now).has_value());
  d = deliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].msg->body(), to_dying.msg->body());  // the dead consumer's message, first in line
  EXPECT_TRUE(d[0].redelivered);
  EXPECT_EQ(d[0].to, survivor);
}

TEST_F(delivery_test, auto_ack_consumer_loses_nothing_in_the_broker_but_owns_in_flight_messages) {
  declare_queue("q");
  const auto c2 = b.open_connection("/", now).value();
  const auto c2ch = open_channel(c2, 1);
  consume("q", c2ch, true);
  publish("", "q", "a");
  ASSERT_EQ(deliveries().size(), 1u);
  b.close_connection(c2, now);
  EXPECT_EQ(ready("q"), 0u);  // with auto-ack the broker forgot it at delivery: a crash loses it
  EXPECT_EQ(b.inspect_queue("/", "q")->stats.acked, 1u);
}

TEST_F(delivery_test, confirms_count_from_one_and_mandatory_unroutable_is_returned_first) {
  declare_queue("q");
  ASSERT_TRUE(b.confirm_select(ch).has_value());
  publish("", "q", "1");
  ASSERT_TRUE(b.basic_publish(ch, "", "nowhere", true, nullptr, "2", now).has_value());
  deliveries();
  ASSERT_EQ(others.size(), 3u);
  EXPECT_EQ(std::get<confirm>(others[0]).sequence, 1u);
  const auto& ret = std::get<returned>(others[1]);
  EXPECT_EQ(ret.code, reply_code::no_route);
  EXPECT_EQ(ret.msg->body(), "2");
  EXPECT_EQ(std::get<confirm>(others[2]).sequence, 2u);  // unroutable is still confirmed (ack)
  EXPECT_TRUE(std::get<confirm>(others[2]).ack);
}

TEST_F(delivery_test, priority_queue_orders_only_a_backlog) {
  // x-max-priority 10: with a backlog higher priorities jump ahead; without one, order is arrival.
  declare_queue("p", {{"x-max-priority", 10}});
  auto prio = [](std::uint8_t p) { return props([p](basic_properties& x) { x.priority = p; }); };
  publish("", "p", "low", prio(1));
  publish("", "p", "high", prio(9));
  publish("", "p", "mid", prio(5));
  publish("", "p", "none");
  consume("p");
  EXPECT_EQ(bodies(), (std::vector<std::string>{"high", "mid", "low", "none"}));
  // No backlog: a waiting consumer gets each message as it comes.
  for (auto [body, p] : {std::pair{"a", 1}, std::pair{"b", 9}}) publish("", "p", body, prio(static_cast<std::uint8_t>(p)));
  EXPECT_EQ(bodies(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(delivery_test, a_single_active_consumer_queue_serves_its_oldest_consumer_until_it_goes) {
  // RabbitMQ's x-single-active-consumer: the first consumer gets everything, in order; the next
  // in line takes over, unacknowledged messages first, when it is cancelled.
  declare_queue("ordered", {{"x-single-active-consumer", true}});
  const channel_ref other = open_channel(conn, 2);
  const std::string first = consume("ordered");
  consume("ordered", other);
  for (const char* body : {"1", "2", "3"}) publish("", "ordered", body);
  auto got = deliveries();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& d : got) EXPECT_EQ(*d.consumer_tag, first);
  ASSERT_TRUE(b.basic_cancel(ch, first, now).has_value());
  // The connection closes channel by channel: the three return to `other`, next in line, until
  // its channel goes too and they are ready again.
  b.close_connection(conn, now);
  deliveries();
  EXPECT_EQ(ready("ordered"), 3u);

  const connection_id again = b.open_connection("/", now).value();
  const channel_ref a = open_channel(again, 1), c = open_channel(again, 2);
  const std::string oldest = consume("ordered", a);
  const std::string second = consume("ordered", c);
  got = deliveries();
  ASSERT_EQ(got.size(), 3u);  // the three returned, to the oldest consumer
  for (const auto& d : got) EXPECT_EQ(*d.consumer_tag, oldest) << d.msg->body();
  ASSERT_TRUE(b.basic_cancel(a, oldest, now).has_value());
  publish("", "ordered", "4", nullptr, c);
  got = deliveries();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(*got.back().consumer_tag, second);  // the next in line took over
  queue_declare_args bad;
  bad.name = "not-a-flag";
  bad.arguments = {{"x-single-active-consumer", "yes"}};
  const auto refused = b.queue_declare(c, bad, now);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().text.find("x-single-active-consumer"), std::string::npos) << refused.error().text;
}

TEST_F(delivery_test, queue_ttl_expires_and_dead_letters_with_x_death) {
  declare_exchange("dlx", "fanout");
  declare_queue("dead");
  ASSERT_TRUE(b.queue_bind(ch, "dead", "dlx", "").has_value());
  declare_queue("orders", {{"x-message-ttl", 5000}, {"x-dead-letter-exchange", "dlx"}});
  publish("", "orders", "o1");
  EXPECT_EQ(b.next_deadline(), now.plus_ms(5000));
  b.advance(now.plus_ms(4999));
  EXPECT_EQ(ready("orders"), 1u);
  now = now.plus_ms(5000);
  b.advance(now);
  EXPECT_EQ(ready("orders"), 0u);
  EXPECT_EQ(ready("dead"), 1u);
  auto got = b.basic_get(ch, "dead", true, now).value().value();
  const field_value* deaths = find(got.msg->properties()->headers, "x-death");
  ASSERT_NE(deaths, nullptr);
  const field_table& entry = *deaths->as_array()->at(0).as_table();
  EXPECT_EQ(*find(entry, "reason")->as_string(), "expired");
  EXPECT_EQ(*find(entry, "queue")->as_string(), "orders");
  EXPECT_EQ(*find(entry, "count")->as_integer(), 1);
  EXPECT_EQ(*find(got.msg->properties()->headers, "x-first-death-reason")->as_string(), "expired");
  EXPECT_EQ(b.next_deadline(), instant::never());
}

TEST_F(delivery_test, dead_letter_exchange_may_be_the_default_exchange) {
  // RabbitMQ's docs: x-dead-letter-exchange "" with a routing key sends dead letters straight to
  // the queue of that name.
  declare_queue("dead");
  declare_queue("orders", {{"x-message-ttl", 50}, {"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", "dead"}});
  publish("", "orders", "o1");
  now = now.plus_ms(50);
  b.advance(now);
  EXPECT_EQ(ready("orders"), 0u);
  EXPECT_EQ(ready("dead"), 1u);
}

TEST_F(delivery_test, per_message_ttl_expires_only_at_the_head) {
  declare_queue("q");
  publish("", "q", "long", props([](basic_properties& p) { p.expiration = "10000"; }));
  publish("", "q", "short", props([](basic_properties& p) { p.expiration = "1000"; }));
  b.advance(now.plus_ms(2000));
  EXPECT_EQ(ready("q"), 2u);  // "short" is behind an unexpired head (RabbitMQ semantics)
  b.advance(now.plus_ms(10000));
  EXPECT_EQ(ready("q"), 0u);
  auto bad = b.basic_publish(ch, "", "q", false, props([](basic_properties& p) { p.expiration = "soon"; }), "x", now);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, reply_code::precondition_failed);
}

TEST_F(delivery_test, ttl_zero_reaches_a_waiting_consumer_or_nobody) {
  declare_queue("q", {{"x-message-ttl", 0}});
  publish("", "q", "dropped");
  EXPECT_EQ(ready("q"), 0u);
  consume("q");
  publish("", "q", "delivered");
  EXPECT_EQ(bodies(), (std::vector<std::string>{"delivered"}));
}

TEST_F(delivery_test, reject_without_requeue_dead_letters_with_the_routing_key_override) {
  declare_exchange("dlx", "direct");
  declare_queue("retry");
  ASSERT_TRUE(b.queue_bind(ch, "retry", "dlx", "retry-key").has_value());
  declare_queue("work", {{"x-dead-letter-exchange", "dlx"}, {"x-dead-letter-routing-key", "retry-key"}});
  publish("", "work", "job");
  auto got = b.basic_get(ch, "work", false, now).value().value();
  ASSERT_TRUE(b.basic_reject(ch, got.delivery_tag, false, now).has_value());
  auto dead = b.basic_get(ch, "retry", true, now).value().value();
  EXPECT_EQ(dead.msg->routing_key(), "retry-key");
  EXPECT_EQ(*find(*find(dead.msg->properties()->headers, "x-death")->as_array()->at(0).as_table(), "reason")->as_string(),
            "rejected");
}

TEST_F(delivery_test, max_length_drop_head_keeps_the_newest) {
  // Peak shaving: "假如消息队列长度超过最大数量，则直接抛弃用户的请求".
  declare_queue("q", {{"x-max-length", 2}});
  for (int i = 1; i <= 4; ++i) publish("", "q", std::to_string(i));
  consume("q");
  EXPECT_EQ(bodies(), (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(b.inspect_queue("/", "q")->stats.dropped, 2u);
}

TEST_F(delivery_test, reject_publish_overflow_nacks_the_publisher) {
  declare_queue("q", {{"x-max-length", 2}, {"x-overflow", "reject-publish"}});
  ASSERT_TRUE(b.confirm_select(ch).has_value());
  for (int i = 1; i <= 3; ++i) publish("", "q", std::to_string(i));
  const auto c = confirms();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_TRUE(c[0].ack);
  EXPECT_TRUE(c[1].ack);
  EXPECT_FALSE(c[2].ack);
  EXPECT_EQ(ready("q"), 2u);
  EXPECT_EQ(b.inspect_queue("/", "q")->stats.rejected_publishes, 1u);
}

TEST_F(delivery_test, reject_publish_dlx_dead_letters_the_rejected_message) {
  declare_exchange("dlx", "fanout");
  declare_queue("overflow");
  ASSERT_TRUE(b.queue_bind(ch, "overflow", "dlx", "").has_value());
  declare_queue("q", {{"x-max-length", 1}, {"x-overflow", "reject-publish-dlx"}, {"x-dead-letter-exchange", "dlx"}});
  publish("", "q", "kept");
  publish("", "q", "spilled");
  EXPECT_EQ(ready("q"), 1u);
  EXPECT_EQ(b.basic_get(ch, "overflow", true, now).value().value().msg->body(), "spilled");
}

TEST_F(delivery_test, max_length_bytes_counts_body_bytes) {
  declare_queue("q", {{"x-max-length-bytes", 10}});
  publish("", "q", "12345");
  publish("", "q", "67890");
  publish("", "q", "abc");  // 13 bytes would exceed: the head goes
  EXPECT_EQ(ready("q"), 2u);
  EXPECT_EQ(b.inspect_queue("/", "q")->ready_bytes, 8u);
}

TEST_F(delivery_test, dead_letter_cycles_without_rejection_are_dropped) {
  // Two queues dead-lettering into each other by TTL: the message would cycle forever.
  declare_exchange("to-b", "fanout");
  declare_exchange("to-a", "fanout");
  declare_queue("a", {{"x-message-ttl", 10}, {"x-dead-letter-exchange", "to-b"}});
  declare_queue("b", {{"x-message-ttl", 10}, {"x-dead-letter-exchange", "to-a"}});
  ASSERT_TRUE(b.queue_bind(ch, "b", "to-b", "").has_value());
  ASSERT_TRUE(b.queue_bind(ch, "a", "to-a", "").has_value());
  publish("", "a", "loop");
  for (int i = 1; i <= 10; ++i) b.advance(now.plus_ms(10 * i));
  EXPECT_EQ(ready("a") + ready("b"), 0u);
  EXPECT_EQ(b.totals().dropped, 1u);
}

TEST_F(delivery_test, transactions_apply_on_commit_and_vanish_on_rollback) {
  declare_queue("q");
  ASSERT_TRUE(b.tx_select(ch).has_value());
  publish("", "q", "1");
  EXPECT_EQ(ready("q"), 0u);
  ASSERT_TRUE(b.tx_commit(ch, now).has_value());
  EXPECT_EQ(ready("q"), 1u);
  publish("", "q", "2");
  ASSERT_TRUE(b.tx_rollback(ch).has_value());
  ASSERT_TRUE(b.tx_commit(ch, now).has_value());
  EXPECT_EQ(ready("q"), 1u);
  EXPECT_FALSE(b.confirm_select(ch).has_value());  // tx and confirm do not mix
}

TEST_F(delivery_test, recover_redelivers_unacked) {
  declare_queue("q");
  consume("q");
  publish("", "q", "m");
  ASSERT_EQ(deliveries().size(), 1u);
  ASSERT_TRUE(b.basic_recover(ch, true, now).has_value());
  const auto d = deliveries();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].redelivered);
  EXPECT_EQ(d[0].delivery_tag, 2u);
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
