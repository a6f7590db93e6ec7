// The AMQP frame codec against the wire layout of AMQP 0-9-1 §4.2 and against itself (round
// trips), and its behaviour on hostile input: truncated, oversized, garbage.
#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "net/amqp/codec.h"

namespace mqlab::net::amqp {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Decoded strings view the frame they came from, so the frames outlive the test's reads.
std::deque<std::string> frames;

template <typename M>
M round_trip(const M& m) {
  std::string& out = frames.emplace_back();
  write_method(out, 7, m);
  auto f = decode_frame(out, 0);
  EXPECT_TRUE(f && *f);
  EXPECT_EQ((*f)->channel, 7);
  EXPECT_EQ((*f)->size(), out.size());
  auto decoded = decode_method((*f)->payload);
  EXPECT_TRUE(decoded.has_value());
  return std::get<M>(*decoded);
}

TEST(AmqpCodec, MethodFrameLayoutMatchesTheSpec) {
  // §4.2.3: type 1, channel, size, payload = class 60, method 80, delivery-tag, bits; end 0xCE.
  std::string out;
  write_method(out, 1, basic_ack{.delivery_tag = 5, .multiple = true});
  EXPECT_EQ(out, bytes({1, 0, 1, 0, 0, 0, 13, 0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 5, 1, 0xCE}));
}

TEST(AmqpCodec, ConsecutiveBitsSharePackedOctets) {
  // queue.declare: passive, durable, exclusive, auto-delete, no-wait are bits 0..4 of one octet.
  std::string out;
  write_method(out, 1, queue_declare{.queue = "q", .durable = true, .auto_delete = true});
  const std::string_view payload = std::string_view(out).substr(7, out.size() - 8);
  // class, method, ticket, shortstr "q", then the bit octet, then an empty table.
  EXPECT_EQ(payload.substr(8, 1), bytes({0b01010}));
  const auto back = round_trip(queue_declare{.queue = "q", .passive = true, .exclusive = true, .no_wait = true});
  EXPECT_TRUE(back.passive && back.exclusive && back.no_wait);
  EXPECT_FALSE(back.durable || back.auto_delete);
}

TEST(AmqpCodec, EveryFieldTableTypeRoundTrips) {
  field_table nested{{"inner", std::int32_t{-7}}};
  field_table t{{"bool", true},
                {"i8", std::int8_t{-3}},
                {"u8", std::uint8_t{200}},
                {"i16", std::int16_t{-300}},
                {"u16", std::uint16_t{60000}},
                {"i32", std::int32_t{-70000}},
                {"u32", std::uint32_t{4000000000u}},
                {"i64", std::int64_t{-5000000000}},
                {"f", 1.5f},
                {"d", 2.25},
                {"dec", broker::amqp::decimal{2, 12345}},
                {"s", "text"},
                {"ts", broker::amqp::timestamp{1700000000}},
                {"table", nested},
                {"array", broker::amqp::field_array{std::int32_t{1}, "two"}},
                {"void", field_value{}}};
  const auto back = round_trip(exchange_declare{.exchange = "x", .type = "headers", .arguments = t});
  EXPECT_TRUE(broker::amqp::equivalent(back.arguments, t));
  EXPECT_EQ(back.arguments.size(), t.size());
  EXPECT_TRUE(std::holds_alternative<float>(broker::amqp::find(back.arguments, "f")->v));
}

TEST(AmqpCodec, ServerMethodsRoundTrip) {
  const auto start = round_trip(connection_start{.server_properties = {{"product", "mqlab"}},
                                                 .mechanisms = {"PLAIN AMQPLAIN"}, .locales = {"en_US"}});
  EXPECT_EQ(start.version_minor, 9);
  EXPECT_EQ(start.mechanisms.value, "PLAIN AMQPLAIN");
  const auto d = round_trip(basic_deliver{.consumer_tag = "ctag", .delivery_tag = 1ull << 40, .redelivered = true,
                                          .exchange = "ex", .routing_key = "a.b"});
  EXPECT_EQ(d.consumer_tag, "ctag");
  EXPECT_EQ(d.delivery_tag, 1ull << 40);
  EXPECT_TRUE(d.redelivered);
  EXPECT_EQ(d.routing_key, "a.b");
  const auto close = round_trip(channel_close{.reply_code = 404, .reply_text = "NOT_FOUND - no queue", .class_id_ = 50,
                                              .method_id_ = 10});
  EXPECT_EQ(close.reply_code, 404);
  EXPECT_EQ(close.method_id_, 10);
}

TEST(AmqpCodec, ContentHeaderCarriesEveryProperty) {
  basic_properties p;
  p.content_type = "text/plain";
  p.content_encoding = "utf-8";
  p.headers = {{"x-retries", std::int32_t{3}}};
  p.delivery_mode = 2;
  p.priority = 9;
  p.correlation_id = "c1";
  p.reply_to = "amq.rabbitmq.reply-to";
  p.expiration = "60000";
  p.message_id = "m1";
  p.timestamp = 1700000000;
  p.type = "order";
  p.user_id = "guest";
  p.app_id = "shop";
  p.cluster_id = "c";
  std::string out;
  write_content(out, 3, p, "hello", 131072);
  auto f = decode_frame(out, 0);
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->type, frame_type::header);
  auto h = decode_content_header((*f)->payload);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->body_size, 5u);
  EXPECT_EQ(h->properties.content_type, p.content_type);
  EXPECT_EQ(h->properties.delivery_mode, p.delivery_mode);
  EXPECT_EQ(h->properties.priority, p.priority);
  EXPECT_EQ(h->properties.expiration, p.expiration);
  EXPECT_EQ(h->properties.timestamp, p.timestamp);
  EXPECT_EQ(h->properties.cluster_id, p.cluster_id);
  EXPECT_TRUE(broker::amqp::equivalent(h->properties.headers, p.headers));
}

TEST(AmqpCodec, AbsentPropertiesLeaveTheirFlagsClear) {
  basic_properties p;
  p.delivery_mode = 1;
  std::string out;
  write_content(out, 1, p, "", 4096);
  // class, weight, body size (8), flags: only bit 12 (delivery-mode) set; no body frame for "".
  EXPECT_EQ(out.substr(7 + 12, 2), bytes({0x10, 0x00}));
  EXPECT_EQ(out.size(), 7u + 14 + 1 + 1);
}

TEST(AmqpCodec, BodiesAreSplitAtFrameMax) {
  const std::string body(10000, 'x');
  std::string out;
  write_content(out, 1, {}, body, 4096);
  std::string_view rest = out;
  std::vector<std::size_t> sizes;
  std::string joined;
  while (!rest.empty()) {
    auto f = decode_frame(rest, 4096);
    ASSERT_TRUE(f && *f);
    if ((*f)->type == frame_type::body) {
      sizes.push_back((*f)->payload.size());
      joined.append((*f)->payload);
    }
    rest.remove_prefix((*f)->size());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4088, 4088, 1824}));
  EXPECT_EQ(joined, body);
}

TEST(AmqpCodec, PartialFramesAskForMoreBytes) {
  std::string out;
  write_method(out, 1, basic_publish{.exchange = "ex", .routing_key = "rk"});
  for (std::size_t n = 0; n < out.size(); ++n) {
    auto f = decode_frame(std::string_view(out).substr(0, n), 0);
    ASSERT_TRUE(f) << n;
    EXPECT_FALSE(*f) << n;
  }
}

TEST(AmqpCodec, MalformedFramesAreFrameErrors) {
  struct bad_case {
    const char* what;
    std::string frame;
    std::uint32_t frame_max;
  };
  const bad_case cases[] = {
      {"unknown type", bytes({9, 0, 0, 0, 0, 0, 0, 0xCE}), 0},
      {"bad end octet", bytes({8, 0, 0, 0, 0, 0, 0, 0x00}), 0},
      {"larger than frame_max", bytes({3, 0, 1, 0, 0, 0x20, 0, 0}), 4096},
  };
  for (const auto& c : cases) {
    auto f = decode_frame(c.frame, c.frame_max);
    ASSERT_FALSE(f) << c.what;
    EXPECT_EQ(f.error().code, reply_code::frame_error) << c.what;
  }
}

TEST(AmqpCodec, TruncatedArgumentsAreSyntaxErrorsAndUnknownMethodsNotImplemented) {
  std::string out;
  write_method(out, 1, queue_bind{.queue = "q", .exchange = "x", .routing_key = "k"});
  const std::string_view payload = std::string_view(out).substr(7, out.size() - 8);
  for (std::size_t n = 0; n < payload.size(); ++n) {
    auto m = decode_method(payload.substr(0, n));
    ASSERT_FALSE(m) << n;
    EXPECT_EQ(m.error().code, reply_code::syntax_error) << n;
  }
  auto unknown = decode_method(bytes({0, 60, 0, 99}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, reply_code::not_implemented);
}

TEST(AmqpCodec, GarbageNeverCrashesOrReadsPastTheInput) {
  std::mt19937 rng(42);
  std::string valid;
  write_method(valid, 1, exchange_declare{.exchange = "x", .type = "topic", .arguments = {{"k", "v"}}});
  for (int i = 0; i < 20000; ++i) {
    std::string s = valid;
    // Flip a few bytes of a valid method, or feed pure noise.
    if (i % 2 == 0) {
      for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    } else {
      s.resize(rng() % 64);
      for (auto& c : s) c = static_cast<char>(rng());
    }
    auto f = decode_frame(s, 4096);
    if (!f || !*f || (*f)->type != frame_type::method) continue;
    auto m = decode_method((*f)->payload);
    if (!m) {
      EXPECT_TRUE(m.error().code == reply_code::syntax_error || m.error().code == reply_code::not_implemented);
    }
    (void)decode_content_header((*f)->payload);
  }
}

TEST(AmqpCodec, DeeplyNestedTablesAreRefused) {
  field_table t{{"leaf", true}};
  for (int i = 0; i < 40; ++i) t = field_table{{"n", t}};
  std::string out;
  write_method(out, 1, queue_declare{.queue = "q", .arguments = t});
  auto f = decode_frame(out, 0);
  ASSERT_TRUE(f && *f);
  auto m = decode_method((*f)->payload);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, reply_code::syntax_error);
}

}  // namespace
}  // namespace mqlab::net::amqp
