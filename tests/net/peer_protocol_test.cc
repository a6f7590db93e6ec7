// The cluster's internal protocol: every frame survives the trip byte for byte, a frame split
// anywhere waits for the rest, and corrupt input is an error rather than a crash or a wait.
#include <gtest/gtest.h>

#include "net/amqp/peer_protocol.h"

namespace mqlab::net::amqp::peer {
namespace {

namespace core = broker::amqp;

frame round_trip(const frame& f) {
  std::string bytes;
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
  const note sent = mirrored_message();
  const auto got = std::get<note>(round_trip(sent));
  EXPECT_EQ(got.what, note::kind::mirror_push);
  EXPECT_EQ(got.queue, "orders");
  EXPECT_EQ(got.sequence, 42u);
  EXPECT_EQ(got.expires_at, sent.expires_at);
  EXPECT_EQ(got.msg->exchange, "amq.direct");
  EXPECT_EQ(got.msg->body, sent.msg->body);
  EXPECT_TRUE(got.msg->properties->persistent());
  EXPECT_EQ(got.msg->properties->headers, sent.msg->properties->headers);
}

TEST(PeerProtocol, AForwardCarriesThePublishersChannelAndTheAnswerComesBack) {
  note fwd;
  fwd.what = note::kind::forward;
  fwd.vhost = "/";
  fwd.queue = "q";
  fwd.sequence = 7;
  fwd.from = {12, 3};
  fwd.msg = core::make_message("", "q", "");
  const auto got = std::get<note>(round_trip(fwd));
  EXPECT_EQ(got.from, (core::channel_ref{12, 3}));
  EXPECT_EQ(got.msg->body, "");
  const auto answer = std::get<settled>(round_trip(settled{{12, 3}, 7, false}));
  EXPECT_EQ(answer.from, (core::channel_ref{12, 3}));
  EXPECT_EQ(answer.sequence, 7u);
  EXPECT_FALSE(answer.accepted);
}

TEST(PeerProtocol, AMetadataChangeTravelsAsTheClientsMethod) {
  queue_bind bind;
  bind.queue = "q";
  bind.exchange = "amq.topic";
  bind.routing_key = "a.*";
  const auto got = std::get<metadata>(round_trip(metadata{"/shop", bind}));
  EXPECT_EQ(got.vhost, "/shop");
  const auto& m = std::get<queue_bind>(got.change);
  EXPECT_EQ(m.queue, "q");
  EXPECT_EQ(m.routing_key, "a.*");
  EXPECT_EQ(std::get<hello>(round_trip(hello{2})).node, 2u);
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
  std::string truncated_body = bytes;
  truncated_body[3] = static_cast<char>(truncated_body[3] - 10);  // claims 10 bytes fewer than it has
  EXPECT_FALSE(read(truncated_body).has_value());
}

}  // namespace
}  // namespace mqlab::net::amqp::peer
