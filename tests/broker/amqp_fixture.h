// A broker with one connection and channel, and helpers that read like a client's calls.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/amqp/broker.h"

namespace mqlab::broker::amqp::testing {

/// Properties built by applying setters, e.g. props([](basic_properties& p) { p.priority = 5; }).
inline std::shared_ptr<const basic_properties> props(auto&&... setters) {
  auto p = std::make_shared<basic_properties>();
  (setters(*p), ...);
  return p;
}

class amqp_test : public ::testing::Test {
 protected:
  explicit amqp_test(cluster_config cluster = {}) : b(cluster) {
    conn = b.open_connection("/", now).value();
    ch = {conn, 1};
    EXPECT_TRUE(b.channel_open(ch).has_value());
  }

  channel_ref open_channel(connection_id c, channel_id id) {
    EXPECT_TRUE(b.channel_open({c, id}).has_value());
    return {c, id};
  }

  void declare_queue(const std::string& name, field_table args = {}, bool durable = false) {
    queue_declare_args a;
    a.name = name;
    a.durable = durable;
    a.arguments = std::move(args);
    ASSERT_TRUE(b.queue_declare(ch, a, now).has_value()) << name;
  }

  void declare_exchange(const std::string& name, const std::string& type) {
    exchange_declare_args a;
    a.name = name;
    a.type = type;
    ASSERT_TRUE(b.exchange_declare(ch, a).has_value()) << name;
  }

  void publish(const std::string& exchange, const std::string& key, const std::string& body,
               std::shared_ptr<const basic_properties> props = nullptr, channel_ref on = {}) {
    auto r = b.basic_publish(on.conn ? on : ch, exchange, key, false, std::move(props), body, now);
    ASSERT_TRUE(r.has_value()) << r.error().text;
  }

  std::string consume(const std::string& queue, channel_ref on = {}, bool no_ack = false) {
    consume_args a;
    a.queue = queue;
    a.no_ack = no_ack;
    auto r = b.basic_consume(on.conn ? on : ch, a, now);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().text);
    return r.value_or("");
  }

  /// Deliveries produced since the last call, in order.
  std::vector<delivery> deliveries() {
    std::vector<delivery> out;
    for (auto& e : b.take_events()) {
      if (auto* d = std::get_if<delivery>(&e)) out.push_back(*d);
      else others.push_back(std::move(e));
    }
    return out;
  }

  /// Publisher confirms produced since the last call (other events are dropped).
  std::vector<confirm> confirms() {
    deliveries();
    std::vector<confirm> out;
    for (auto& e : others) {
      if (auto* c = std::get_if<confirm>(&e)) out.push_back(*c);
    }
    others.clear();
    return out;
  }

  /// Bodies delivered since the last call.
  std::vector<std::string> bodies() {
    std::vector<std::string> out;
    for (const auto& d : deliveries()) out.emplace_back(d.msg->body());
    return out;
  }

  std::uint32_t ready(const std::string& queue) { return b.inspect_queue("/", queue)->ready; }

  broker b;
  instant now{};
  connection_id conn = 0;
  channel_ref ch;
  std::vector<event> others;  // non-delivery events seen by deliveries()
};

}  // namespace mqlab::broker::amqp::testing
