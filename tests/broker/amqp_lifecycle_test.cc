// Consumers, channels and queues coming and going: cancel, auto-delete, exclusive consumers,
// and what happens to messages in flight.
#include "amqp_fixture.h"

namespace mqlab::broker::amqp::testing {
namespace {

class lifecycle : public amqp_test {};

TEST_F(lifecycle, cancel_stops_deliveries) {
  declare_queue("q");
  const auto tag = consume("q");
  publish("", "q", "1");
  ASSERT_TRUE(b.basic_cancel(ch, tag, now).has_value());
  publish("", "q", "2");
  EXPECT_EQ(bodies(), (std::vector<std::string>{"1"}));
  EXPECT_EQ(ready("q"), 1u);
}

TEST_F(lifecycle, auto_delete_queue_goes_with_its_last_consumer) {
  queue_declare_args a{.name = "temp", .auto_delete = true};
  ASSERT_TRUE(b.queue_declare(ch, a, now).has_value());
  const auto t1 = consume("temp");
  const auto t2 = consume("temp");
  ASSERT_TRUE(b.basic_cancel(ch, t1, now).has_value());
  EXPECT_TRUE(b.inspect_queue("/", "temp").has_value());
  ASSERT_TRUE(b.basic_cancel(ch, t2, now).has_value());
  EXPECT_FALSE(b.inspect_queue("/", "temp").has_value());
}

TEST_F(lifecycle, deleting_a_queue_cancels_its_consumers_with_a_notification) {
  declare_queue("q");
  const auto c2 = open_channel(conn, 2);
  const auto tag = consume("q", c2);
  ASSERT_TRUE(b.queue_delete(ch, "q", false, false, now).has_value());
  deliveries();
  ASSERT_EQ(others.size(), 1u);
  const auto& cancelled = std::get<consumer_cancelled>(others[0]);
  EXPECT_EQ(cancelled.consumer_tag, tag);
  EXPECT_EQ(cancelled.to, c2);
}

TEST_F(lifecycle, exclusive_consumer_keeps_others_out) {
  declare_queue("q");
  consume_args a{.queue = "q", .exclusive = true};
  ASSERT_TRUE(b.basic_consume(ch, a, now).has_value());
  const auto c2 = open_channel(conn, 2);
  auto r = b.basic_consume(c2, {.queue = "q"}, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::access_refused);
}

TEST_F(lifecycle, reusing_a_consumer_tag_on_a_channel_is_530) {
  declare_queue("q");
  ASSERT_TRUE(b.basic_consume(ch, {.queue = "q", .consumer_tag = "worker"}, now).has_value());
  auto r = b.basic_consume(ch, {.queue = "q", .consumer_tag = "worker"}, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::not_allowed);
  EXPECT_TRUE(r.error().connection_level());
}

TEST_F(lifecycle, closing_a_channel_requeues_in_original_order) {
  declare_queue("q");
  const auto worker = open_channel(conn, 2);
  consume("q", worker);
  for (int i = 1; i <= 3; ++i) publish("", "q", std::to_string(i));
  publish("", "q", "4");
  ASSERT_EQ(deliveries().size(), 4u);
  ASSERT_TRUE(b.basic_ack(worker, 2, false, now).has_value());  // "2" is done
  b.channel_close(worker, now);
  EXPECT_EQ(ready("q"), 3u);
  consume("q");
  const auto d = deliveries();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].msg->body(), "1");
  EXPECT_EQ(d[1].msg->body(), "3");
  EXPECT_EQ(d[2].msg->body(), "4");
  for (const auto& x : d) EXPECT_TRUE(x.redelivered);
}

TEST_F(lifecycle, acking_after_the_queue_was_deleted_is_harmless) {
  declare_queue("q");
  publish("", "q", "m");
  auto got = b.basic_get(ch, "q", false, now).value().value();
  const auto c2 = open_channel(conn, 2);
  ASSERT_TRUE(b.queue_delete(c2, "q", false, false, now).has_value());
  EXPECT_TRUE(b.basic_ack(ch, got.delivery_tag, false, now).has_value());
}

TEST_F(lifecycle, basic_get_counts_toward_nothing_and_delivers_tags_in_sequence) {
  declare_queue("q");
  for (int i = 0; i < 3; ++i) publish("", "q", "m");
  EXPECT_EQ(b.basic_get(ch, "q", false, now).value()->delivery_tag, 1u);
  EXPECT_EQ(b.basic_get(ch, "q", false, now).value()->delivery_tag, 2u);
  ASSERT_TRUE(b.basic_ack(ch, 0, true, now).has_value());  // multiple with tag 0: everything
  EXPECT_EQ(b.inspect_queue("/", "q")->unacked, 0u);
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
