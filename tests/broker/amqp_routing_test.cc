// Routing: topic patterns, the four exchange types, the default exchange and
// exchange-to-exchange bindings (the seed's "Exchange类型" section).
#include "amqp_fixture.h"
#include "broker/amqp/topic_matcher.h"

namespace mqlab::broker::amqp::testing {
namespace {

struct topic_case {
  const char* pattern;
  const char* key;
  bool matches;
};

class topic_matching : public ::testing::TestWithParam<topic_case> {};

TEST_P(topic_matching, follows_rabbitmq_rules) {
  const auto& c = GetParam();
  EXPECT_EQ(topic_matcher::matches(c.pattern, c.key), c.matches) << c.pattern << " vs '" << c.key << "'";
}

INSTANTIATE_TEST_SUITE_P(
    rabbitmq, topic_matching,
    ::testing::Values(topic_case{"a.b", "a.b", true}, topic_case{"a.b", "a.c", false},
                      topic_case{"*.orange.*", "quick.orange.rabbit", true},
                      topic_case{"*.orange.*", "quick.orange.male.rabbit", false},
                      topic_case{"*.*.rabbit", "lazy.orange.rabbit", true}, topic_case{"lazy.#", "lazy", true},
                      topic_case{"lazy.#", "lazy.orange.male.rabbit", true}, topic_case{"lazy.#", "lazy2", false},
                      topic_case{"#", "", true}, topic_case{"#", "anything.at.all", true}, topic_case{"*", "", false},
                      topic_case{"*", "one", true}, topic_case{"*", "one.two", false}, topic_case{"a.#", "a", true},
                      topic_case{"#.a", "a", true}, topic_case{"#.a", "b.a", true}, topic_case{"#.a", "a.b", false},
                      topic_case{"a.#.b", "a.b", true}, topic_case{"a.#.b", "a.x.y.b", true},
                      topic_case{"a.*.b", "a..b", true}, topic_case{"a..b", "a..b", true},
                      topic_case{"#.#", "a.b", true}, topic_case{"#.*", "", false}, topic_case{"key.#", "key.1", true},
                      topic_case{"", "", true}, topic_case{"", "a", false}));

TEST(topic_matcher_index, many_bindings_route_to_exactly_the_matching_ones) {
  topic_matcher m;
  m.add("stock.*.nyse", 1);
  m.add("stock.#", 2);
  m.add("#.nyse", 3);
  m.add("stock.ibm.nyse", 4);
  m.add("stock.ibm.nyse", 4);  // duplicate: no effect
  std::vector<std::uint32_t> out;
  m.match("stock.ibm.nyse", out);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::uint32_t>{1, 2, 3, 4}));
  m.remove("stock.#", 2);
  out.clear();
  m.match("stock.ibm.nyse", out);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<std::uint32_t>{1, 3, 4}));
}

class routing : public amqp_test {};

TEST_F(routing, direct_exchange_matches_the_routing_key_exactly) {
  // rabbitAdmin.declareBinding(new Binding("debug", QUEUE, "direct.exchange", "key.1", ...)) etc.
  declare_exchange("direct.exchange", "direct");
  for (auto [q, key] : {std::pair{"debug", "key.1"}, std::pair{"info", "key.2"}, std::pair{"error", "key.3"}}) {
    declare_queue(q);
    ASSERT_TRUE(b.queue_bind(ch, q, "direct.exchange", key).has_value());
  }
  publish("direct.exchange", "key.1", "d");
  publish("direct.exchange", "key.3", "e");
  publish("direct.exchange", "key.4", "nowhere");
  EXPECT_EQ(ready("debug"), 1u);
  EXPECT_EQ(ready("info"), 0u);
  EXPECT_EQ(ready("error"), 1u);
}

TEST_F(routing, fanout_copies_to_every_bound_queue_sharing_the_body) {
  declare_exchange("fanout.exchange", "fanout");
  for (auto q : {"a", "b", "c"}) {
    declare_queue(q);
    ASSERT_TRUE(b.queue_bind(ch, q, "fanout.exchange", "ignored").has_value());
  }
  publish("fanout.exchange", "whatever", "hello");
  consume("a");
  consume("b");
  const auto d = deliveries();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].msg.get(), d[1].msg.get());  // one message object: the body was not copied
  EXPECT_EQ(ready("c"), 1u);
}

TEST_F(routing, topic_exchange_routes_by_pattern) {
  declare_exchange("topic.exchange", "topic");
  declare_queue("q1");
  declare_queue("q2");
  ASSERT_TRUE(b.queue_bind(ch, "q1", "topic.exchange", "*.orange.*").has_value());
  ASSERT_TRUE(b.queue_bind(ch, "q2", "topic.exchange", "*.*.rabbit").has_value());
  ASSERT_TRUE(b.queue_bind(ch, "q2", "topic.exchange", "lazy.#").has_value());
  publish("topic.exchange", "quick.orange.rabbit", "1");  // q1 and q2
  publish("topic.exchange", "lazy.orange.elephant", "2");  // q1 and q2
  publish("topic.exchange", "lazy.pink.rabbit", "3");      // q2 once, though two bindings match
  publish("topic.exchange", "quick.brown.fox", "4");       // nowhere
  EXPECT_EQ(ready("q1"), 2u);
  EXPECT_EQ(ready("q2"), 3u);
}

TEST_F(routing, headers_exchange_all_and_any) {
  declare_exchange("header.exchange", "headers");
  declare_queue("all");
  declare_queue("any");
  ASSERT_TRUE(b.queue_bind(ch, "all", "header.exchange", "", {{"x-match", "all"}, {"format", "pdf"}, {"type", "report"}}).has_value());
  ASSERT_TRUE(b.queue_bind(ch, "any", "header.exchange", "", {{"x-match", "any"}, {"format", "pdf"}, {"type", "report"}}).has_value());
  auto with = [](field_table h) { return props([h](basic_properties& p) { p.headers = h; }); };
  publish("header.exchange", "", "1", with({{"format", "pdf"}, {"type", "report"}}));  // both
  publish("header.exchange", "", "2", with({{"format", "pdf"}, {"type", "log"}}));     // any only
  publish("header.exchange", "", "3", with({{"format", "zip"}}));                      // none
  publish("header.exchange", "", "4", with({{"format", "pdf"}, {"type", "report"}, {"x-extra", 1}}));  // both
  EXPECT_EQ(ready("all"), 2u);
  EXPECT_EQ(ready("any"), 3u);
}

TEST_F(routing, default_exchange_routes_to_the_queue_named_by_the_key_and_refuses_bindings) {
  declare_queue("registration");
  publish("", "registration", "user-1");
  publish("", "no-such-queue", "lost");
  EXPECT_EQ(ready("registration"), 1u);
  auto r = b.queue_bind(ch, "registration", "", "x");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, reply_code::access_refused);
}

TEST_F(routing, exchange_to_exchange_bindings_deliver_once_per_queue) {
  // rabbitAdmin.declareBinding(new Binding("exchange1", EXCHANGE, "exchange2", "key.4", ...))
  declare_exchange("exchange1", "topic");
  declare_exchange("exchange2", "topic");
  declare_queue("q");
  ASSERT_TRUE(b.exchange_bind(ch, "exchange1", "exchange2", "key.4").has_value());
  ASSERT_TRUE(b.queue_bind(ch, "q", "exchange1", "#").has_value());
  ASSERT_TRUE(b.queue_bind(ch, "q", "exchange2", "key.*").has_value());  // a second path to q
  publish("exchange2", "key.4", "once");
  EXPECT_EQ(ready("q"), 1u);
  publish("exchange2", "key.5", "direct path only");
  EXPECT_EQ(ready("q"), 2u);
}

TEST_F(routing, exchange_cycles_terminate) {
  declare_exchange("x1", "fanout");
  declare_exchange("x2", "fanout");
  declare_queue("q");
  ASSERT_TRUE(b.exchange_bind(ch, "x2", "x1", "").has_value());
  ASSERT_TRUE(b.exchange_bind(ch, "x1", "x2", "").has_value());
  ASSERT_TRUE(b.queue_bind(ch, "q", "x2", "").has_value());
  publish("x1", "", "m");
  EXPECT_EQ(ready("q"), 1u);
}

TEST_F(routing, unbind_stops_routing_and_auto_delete_exchange_goes_with_its_last_binding) {
  exchange_declare_args a;
  a.name = "temp";
  a.type = "direct";
  a.auto_delete = true;
  ASSERT_TRUE(b.exchange_declare(ch, a).has_value());
  declare_queue("q");
  ASSERT_TRUE(b.queue_bind(ch, "q", "temp", "k").has_value());
  ASSERT_TRUE(b.queue_unbind(ch, "q", "temp", "k").has_value());
  EXPECT_FALSE(b.exchange_exists("/", "temp"));
}

}  // namespace
}  // namespace mqlab::broker::amqp::testing
