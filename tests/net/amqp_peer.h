// A scripted AMQP client for tests of the server's protocol state machine, without sockets:
// it writes frames into a connection and decodes what the connection answers.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <variant>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/amqp/codec.h"
#include "net/amqp/connection.h"

namespace mqlab::net::amqp::testing {

/// One decoded frame from the server: a method, a content header, a body or a heartbeat.
struct received {
  std::uint16_t channel = 0;
  frame_type type = frame_type::method;
  std::optional<method> m;
  std::optional<content_header> header;
  std::string body;
};

/// The broker core, the server side of several connections, and the event routing the
/// transport does, stepped by hand.
class test_server {
 public:
  explicit test_server(server_options options = {}) : options_(std::move(options)) {}
  broker::amqp::broker core;

  /// A new connection; `loopback` says where its peer is.
  connection& accept(bool loopback = true);
  /// Routes broker events to their connections, as the transport does after each input.
  void pump();
  server_options options_;

 private:
  std::deque<connection> connections_;
};

class client {
 public:
  client(test_server& server, connection& conn) : server_(server), conn_(conn) {}

  /// Sends raw bytes, then routes broker events.
  void send_bytes(std::string_view bytes, instant now = {});
  template <typename M>
  void send(std::uint16_t channel, const M& m, instant now = {}) {
    std::string out;
    write_method(out, channel, m);
    send_bytes(out, now);
  }
  void publish(std::uint16_t channel, std::string_view exchange, std::string_view routing_key, std::string_view body,
               basic_properties properties = {}, bool mandatory = false);
  /// Protocol header and start-ok (PLAIN, guest:guest unless told), up to the server's connection.tune.
  void log_in(std::string_view user = "guest", std::string_view password = "guest");
  /// Protocol header, start-ok (PLAIN), tune-ok, open; expects success.
  void handshake(std::string_view vhost = "/", std::uint32_t frame_max = 131072, std::uint16_t heartbeat = 0);
  void open_channel(std::uint16_t channel);

  /// Every frame the server wrote since the last call.
  std::vector<received> take();
  /// The methods among take(), in order.
  std::vector<method> methods();
  /// The single method expected next; fails the test otherwise.
  template <typename M>
  M expect() {
    auto ms = methods();
    if (ms.size() != 1 || !std::holds_alternative<M>(ms[0])) {
      ADD_FAILURE() << "expected exactly one " << method_name(M{}) << ", got " << ms.size() << " methods";
      return M{};
    }
    return std::get<M>(ms[0]);
  }
  connection& conn() { return conn_; }

 private:
  test_server& server_;
  connection& conn_;
  std::deque<std::string> kept_;  // decoded string views point into these
};

}  // namespace mqlab::net::amqp::testing
