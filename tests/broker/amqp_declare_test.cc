// Declaring, checking and deleting queues and exchanges, with RabbitMQ's reply codes.
#include "amqp_fixture.h"

namespace mqlab::broker::amqp::testing {
namespace {

class declare : public amqp_test {
 protected:
  result<queue_declare_ok> declare_q(queue_declare_args a) { return b.queue_declare(ch, a, now); }
  void reopen_channel() { ASSERT_TRUE(b.channel_open(ch).has_value()); }
};

TEST_F(declare, declare_ok_reports_messages_and_consumers) {
  declare_queue("info");
  publish("", "info", "1");
  publish("", "info", "2");
  auto channel2 = open_channel(conn, 2);
  consume("info", channel2);
  // The consumer took both (no prefetch limit), so the queue reports 0 ready and 1 consumer.
  auto ok = declare_q({.name = "info"});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->message_count, 0u);
  EXPECT_EQ(ok->consumer_count, 1u);
  declare_queue("debug");
  publish("", "debug", "x");
  EXPECT_EQ(declare_q({.name = "debug"})->message_count, 1u);
}

TEST_F(declare, server_named_queues) {
  auto ok = declare_q({.name = "", .exclusive = true});
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->name.starts_with("amq.gen-")) << ok->name;
  EXPECT_NE(declare_q({.name = ""})->name, ok->name);
}

TEST_F(declare, passive_declare_of_a_missing_queue_is_404_and_closes_the_channel) {
  auto r = declare_q({.name = "ghost", .passive = true});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::not_found);
  EXPECT_EQ(r.error().text, "NOT_FOUND - no queue 'ghost' in vhost '/'");
  EXPECT_FALSE(r.error().connection_level());
  EXPECT_EQ(r.error().method.class_id, 50);
  EXPECT_EQ(r.error().method.method_id, 10);
  // The channel is closed: using it again is a connection-level channel error.
  auto again = declare_q({.name = "x"});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, reply_code::channel_error);
}

TEST_F(declare, redeclare_with_different_properties_is_406) {
  declare_queue("q", {}, true);
  auto r = declare_q({.name = "q", .durable = false});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::precondition_failed);
  EXPECT_EQ(r.error().text,
            "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'false' but current is 'true'");
  reopen_channel();
  auto args = declare_q({.name = "q", .durable = true, .arguments = {{"x-max-length", 10}}});
  ASSERT_FALSE(args.has_value());
  EXPECT_NE(args.error().text.find("inequivalent arg 'x-max-length'"), std::string::npos) << args.error().text;
  reopen_channel();
  EXPECT_TRUE(declare_q({.name = "q", .durable = true}).has_value());  // same properties: fine
}

TEST_F(declare, exchange_type_mismatch_and_unknown_type) {
  declare_exchange("x", "direct");
  exchange_declare_args a{.name = "x", .type = "topic"};
  auto r = b.exchange_declare(ch, a);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::precondition_failed);
  EXPECT_NE(r.error().text.find("received 'topic' but current is 'direct'"), std::string::npos);
  reopen_channel();
  auto bad = b.exchange_declare(ch, {.name = "y", .type = "bogus"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, reply_code::command_invalid);
  EXPECT_TRUE(bad.error().connection_level());
}

TEST_F(declare, amq_prefix_is_reserved) {
  auto r = declare_q({.name = "amq.mine"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::access_refused);
}

TEST_F(declare, invalid_arguments_are_406_naming_the_argument) {
  auto r = declare_q({.name = "q", .arguments = {{"x-overflow", "explode"}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::precondition_failed);
  EXPECT_NE(r.error().text.find("x-overflow"), std::string::npos);
  reopen_channel();
  EXPECT_FALSE(declare_q({.name = "q", .arguments = {{"x-message-ttl", -5}}}).has_value());
}

TEST_F(declare, exclusive_queue_is_locked_for_other_connections) {
  ASSERT_TRUE(declare_q({.name = "mine", .exclusive = true}).has_value());
  const auto other = b.open_connection("/", now).value();
  const channel_ref och = open_channel(other, 1);
  auto r = b.basic_consume(och, {.queue = "mine"}, now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::resource_locked);
  // It goes away with its connection.
  b.close_connection(conn, now);
  EXPECT_FALSE(b.inspect_queue("/", "mine").has_value());
}

TEST_F(declare, delete_if_unused_and_if_empty) {
  declare_queue("q");
  publish("", "q", "m");
  auto not_empty = b.queue_delete(ch, "q", false, true, now);
  ASSERT_FALSE(not_empty.has_value());
  EXPECT_EQ(not_empty.error().text, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty");
  reopen_channel();
  consume("q");
  auto in_use = b.queue_delete(ch, "q", true, false, now);
  ASSERT_FALSE(in_use.has_value());
  EXPECT_EQ(in_use.error().text, "PRECONDITION_FAILED - queue 'q' in vhost '/' in use");
  reopen_channel();
  auto deleted = b.queue_delete(ch, "q", false, false, now);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_FALSE(b.inspect_queue("/", "q").has_value());
}

TEST_F(declare, purge_returns_the_count_and_deleting_unbinds) {
  declare_exchange("fan", "fanout");
  declare_queue("q");
  ASSERT_TRUE(b.queue_bind(ch, "q", "fan", "").has_value());
  publish("fan", "", "1");
  publish("fan", "", "2");
  EXPECT_EQ(*b.queue_purge(ch, "q"), 2u);
  EXPECT_EQ(ready("q"), 0u);
  ASSERT_TRUE(b.queue_delete(ch, "q", false, false, now).has_value());
  declare_queue("q");
  publish("fan", "", "3");
  EXPECT_EQ(ready("q"), 0u);  // the new queue of the same name is not bound
}

TEST_F(declare, publishing_to_a_missing_exchange_is_404) {
  auto r = b.basic_publish(ch, "nope", "k", false, nullptr, "m", now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().text, "NOT_FOUND - no exchange 'nope' in vhost '/'");
}

TEST_F(declare, unknown_vhost_and_second_channel_open) {
  auto r = b.open_connection("/nope", now);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::not_allowed);
  auto twice = b.channel_open(ch);
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, reply_code::channel_error);
  EXPECT_TRUE(twice.error().connection_level());
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
