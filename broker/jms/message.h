// A JMS message (JMS 1.1 §3): the header fields, typed application properties, and the five body
// types, with the view a selector evaluates (headers by their JMS names, then properties).
// Messages are immutable once sent and shared between the subscriptions a topic fans out to.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broker/jms/destination.h"
#include "broker/jms/selector.h"

namespace mqlab::broker::jms {

/// A property value with its JMS type (Message.setBooleanProperty ... setStringProperty).
using property = std::variant<bool, std::int8_t, std::int16_t, std::int32_t, std::int64_t, float, double, std::string>;
using property_map = std::map<std::string, property, std::less<>>;

struct text_body { std::string text; };
struct bytes_body { std::string bytes; };
struct map_body { property_map entries; };
struct stream_body { std::vector<property> items; };
/// A serialised Java object: opaque bytes to the broker.
struct object_body { std::string bytes; };
using body = std::variant<std::monostate, text_body, bytes_body, map_body, stream_body, object_body>;

enum class delivery_mode : std::uint8_t { non_persistent = 1, persistent = 2 };

/// What an application sets before send(). JMSPriority, JMSDeliveryMode and JMSExpiration are
/// not here on purpose: the provider overwrites them at send from the producer's QoS, which
/// is why message.setJMSPriority(0) has no effect (the seed's ActiveMQ priority note).
struct message_spec {
  std::string correlation_id, type;
  std::optional<destination> reply_to;
  property_map properties;
  body content;
};

/// A sent message: the application's part plus the headers the provider set.
struct message {
  message_spec spec;
  destination dest;
  delivery_mode mode = delivery_mode::persistent;
  std::string message_id;  // "ID:..."
  std::int64_t timestamp_ms = 0;
  std::int64_t expiration_ms = 0;  // 0 = never expires
  std::uint8_t priority = 4;
  std::size_t size = 0;  // body bytes, for memory accounting and cost models

  bool persistent() const { return mode == delivery_mode::persistent; }
  /// A header (JMSPriority, JMSType, JMSDeliveryMode, ...) or property, as a selector sees it;
  /// empty (NULL) when absent.
  value lookup(std::string_view identifier) const;
};

using message_ptr = std::shared_ptr<const message>;

/// Bytes a body occupies (text and bytes as is; map and stream entries summed).
std::size_t body_size(const body& b);
/// A property as a selector operand: integers widen to long, floats to double.
value to_value(const property& p);

}  // namespace mqlab::broker::jms
