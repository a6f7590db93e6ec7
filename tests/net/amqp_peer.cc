// The scripted AMQP test client.
#include <gtest/gtest.h>

#include "tests/net/amqp_peer.h"

namespace mqlab::net::amqp::testing {

connection& test_server::accept(bool loopback) { return connections_.emplace_back(core, options_, loopback); }

void test_server::pump() {
  for (const auto& e : core.take_events()) {
    const auto target = broker::amqp::target_of(e);
    for (auto& c : connections_) {
      if (c.broker_id() == target) c.on_event(e);
    }
  }
}

void client::send_bytes(std::string_view bytes, instant now) {
  conn_.receive(bytes, now);
  server_.pump();
}

void client::publish(std::uint16_t channel, std::string_view exchange, std::string_view routing_key,
                     std::string_view body, basic_properties properties, bool mandatory) {
  std::string out;
  write_method(out, channel, basic_publish{.exchange = exchange, .routing_key = routing_key, .mandatory = mandatory});
  write_content(out, channel, properties, body, 131072);
  send_bytes(out);
}

void client::log_in(std::string_view user, std::string_view password) {
  send_bytes(protocol_header);
  expect<connection_start>();
  field_table caps{{"consumer_cancel_notify", true}, {"connection.blocked", true}};
  const std::string response = std::string(1, '\0') + std::string(user) + '\0' + std::string(password);
  send(0, connection_start_ok{.client_properties = {{"capabilities", caps}}, .mechanism = "PLAIN",
                              .response = {response}, .locale = "en_US"});
  expect<connection_tune>();
}

void client::handshake(std::string_view vhost, std::uint32_t frame_max, std::uint16_t heartbeat) {
  log_in();
  send(0, connection_tune_ok{.channel_max = 0, .frame_max = frame_max, .heartbeat = heartbeat});
  send(0, connection_open{.virtual_host = vhost});
  expect<connection_open_ok>();
}

void client::open_channel(std::uint16_t channel) {
  send(channel, channel_open{});
  expect<channel_open_ok>();
}

std::vector<received> client::take() {
  std::string& buf = kept_.emplace_back(std::move(conn_.output()));
  conn_.output().clear();
  std::vector<received> out;
  std::string_view rest = buf;
  if (rest.starts_with("AMQP")) rest.remove_prefix(protocol_header.size());
  while (!rest.empty()) {
    auto f = decode_frame(rest, 0);
    if (!f || !*f) {
      ADD_FAILURE() << "server wrote a malformed or partial frame";
      break;
    }
    received r{.channel = (*f)->channel, .type = (*f)->type};
    if (r.type == frame_type::method) {
      auto m = decode_method((*f)->payload);
      EXPECT_TRUE(m.has_value());
      if (m) r.m = std::move(*m);
    } else if (r.type == frame_type::header) {
      auto h = decode_content_header((*f)->payload);
      EXPECT_TRUE(h.has_value());
      if (h) r.header = std::move(*h);
    } else if (r.type == frame_type::body) {
      r.body = std::string((*f)->payload);
    }
    out.push_back(std::move(r));
    rest.remove_prefix((*f)->size());
  }
  return out;
}

std::vector<method> client::methods() {
  std::vector<method> ms;
  for (auto& r : take()) {
    if (r.m) ms.push_back(std::move(*r.m));
  }
  return ms;
}

}  // namespace mqlab::net::amqp::testing
