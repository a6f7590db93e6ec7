// A published message: the basic-class content properties (AMQP 0-9-1 §4.2.6, class basic),
// the body, and where it was published. Messages are immutable and shared: fan-out to many
// queues copies a pointer, never the body.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "broker/amqp/field_table.h"

namespace mqlab::broker::amqp {

/// Content properties. Shared between messages that carry the same ones (a simulated producer
/// sends thousands of messages with one properties object).
struct basic_properties {
  std::optional<std::string> content_type, content_encoding;
  field_table headers;
  std::optional<std::uint8_t> delivery_mode;  // 1 transient, 2 persistent
  std::optional<std::uint8_t> priority;
  std::optional<std::string> correlation_id, reply_to;
  std::optional<std::string> expiration;  // per-message TTL in milliseconds, as a decimal string
  std::optional<std::string> message_id;
  std::optional<std::uint64_t> timestamp;
  std::optional<std::string> type, user_id, app_id, cluster_id;

  bool persistent() const { return delivery_mode == 2; }
};

struct message {
  std::string exchange;     // where it was published (the default exchange is "")
  std::string routing_key;
  std::shared_ptr<const basic_properties> properties;  // never null
  std::string body;

  std::size_t body_size() const { return body.size(); }
  std::uint8_t priority() const { return properties->priority.value_or(0); }
};

using message_ptr = std::shared_ptr<const message>;

/// Builds a message; `properties` may be null for "no properties".
message_ptr make_message(std::string exchange, std::string routing_key, std::string body,
                         std::shared_ptr<const basic_properties> properties = nullptr);

}  // namespace mqlab::broker::amqp
