// The cluster's internal protocol: every frame survives the trip byte for byte, a frame split
// anywhere waits for the rest, and corrupt input is an error rather than a crash or a wait.
#include <gtest/gtest.h>

#include "net/amqp/peer_protocol.h"
#include "net/byte_order.h"

namespace mqlab::net::amqp::peer {

using net::store_be;
namespace {

namespace core = broker::amqp;

/// Writes `f` into `bytes` and reads it back. `bytes` must outlive the frame: a metadata
/// change's AMQP method holds views into the bytes it was read from.
frame round_trip(const frame& f, std::string& bytes) {
  bytes.clear();
  write(bytes, f);
  auto back = read(bytes);
  EXPECT_TRUE(back.has_value() && back->has_value());
  EXPECT_EQ((*back)->second, bytes.size());
  return (*back)->first;
}

note mirrored_message() {
  auto props = std::make_shared<core::basic_properties>();
  props->delivery_mode = 2;
  props->headers = {{"x-origin", std::string("node-1")}};
  note n;
  n.what = note::kind::mirror_push;
  n.vhost = "/";
  n.queue = "orders";
  n.sequence = 42;
  n.expires_at = broker::instant{123'456'789};
  n.msg = core::make_message("amq.direct", "orders", std::string(5000, 'b'), props);
  return n;
}

TEST(PeerProtocol, AMirroredMessageArrivesWithItsPropertiesBodyAndExpiry) {
  std::string wire;
  const note sent = mirrored_message();
  const auto got = std::get<note>(round_trip(sent, wire));
  EXPECT_EQ(got.what, note::kind::mirror_push);
  EXPECT_EQ(got.queue, "orders");
  EXPECT_EQ(got.sequence, 42u);
  EXPECT_EQ(got.expires_at, sent.expires_at);
  EXPECT_EQ(got.msg->exchange(), "amq.direct");
  EXPECT_EQ(got.msg->body(), sent.msg->body());
  EXPECT_TRUE(got.msg->properties()->persistent());
  EXPECT_EQ(got.msg->properties()->headers, sent.msg->properties()->headers);
}

TEST(PeerProtocol, AForwardCarriesThePublishWhoseConfirmWaitsAndTheAnswerComesBack) {
  std::string wire;
  note fwd;
  fwd.what = note::kind::forward;
  fwd.vhost = "/";
  fwd.queue = "q";
  fwd.publish = {broker::node_id{1}, {12, 3}, 7};
  fwd.msg = core::make_message("", "q", "");
  const auto got = std::get<note>(round_trip(fwd, wire));
  EXPECT_EQ(got.publish, fwd.publish);
  EXPECT_EQ(got.msg->body(), "");
  note answer;
  answer.what = note::kind::settled;
  answer.publish = fwd.publish;
  answer.accepted = false;
  const auto back = std::get<note>(round_trip(answer, wire));
  EXPECT_EQ(back.what, note::kind::settled);
  EXPECT_EQ(back.publish, fwd.publish);
  EXPECT_FALSE(back.accepted);
}

TEST(PeerProtocol, AMetadataChangeTravelsAsTheClientsMethod) {
  std::string wire;
  queue_bind bind;
  bind.queue = "q";
  bind.exchange = "amq.topic";
  bind.routing_key = "a.*";
  const auto got = std::get<metadata>(round_trip(metadata{"/shop", bind}, wire));
  EXPECT_EQ(got.vhost, "/shop");
  const auto& m = std::get<queue_bind>(got.change);
  EXPECT_EQ(m.queue, "q");
  EXPECT_EQ(m.routing_key, "a.*");
  const auto h = std::get<hello>(round_trip(hello{2, "cookie"}, wire));
  EXPECT_EQ(h.node, 2u);
  EXPECT_EQ(h.secret, "cookie");
}

TEST(PeerProtocol, CreditForHandledForwardsIsAFrameOfItsOwn) {
  std::string wire;
  EXPECT_EQ(std::get<credit>(round_trip(credit{200}, wire)).count, 200u);
  EXPECT_EQ(wire.size(), 4u + 1 + 4) << "length, type and a 32-bit count";
  wire.push_back('x');
  store_be<std::uint32_t>(wire.data(), 1 + 4 + 1);
  EXPECT_FALSE(read(wire).has_value()) << "a credit frame with a byte too many";
}

TEST(PeerProtocol, APartialFrameWaitsAndGarbageIsAnError) {
  std::string bytes;
  write(bytes, frame{mirrored_message()});
  for (std::size_t cut = 0; cut < bytes.size(); cut += 97) {
    auto r = read(std::string_view(bytes).substr(0, cut));
    ASSERT_TRUE(r.has_value()) << cut;
    EXPECT_FALSE(r->has_value()) << "a frame cut at " << cut << " is incomplete, not an error";
  }
  std::string unknown_type = bytes;
  unknown_type[4] = 99;
  EXPECT_FALSE(read(unknown_type).has_value());
  std::string huge("\x7f\xff\xff\xff\x01", 5);
  EXPECT_FALSE(read(huge).has_value()) << "a length no sane frame has";
  // A frame that says it ends 10 bytes early cuts its message's content short.
  std::string short_frame = bytes;
  store_be<std::uint32_t>(short_frame.data(), static_cast<std::uint32_t>(bytes.size() - 4 - 10));
  EXPECT_FALSE(read(short_frame).has_value());
}

}  // namespace
}  // namespace mqlab::net::amqp::peer
