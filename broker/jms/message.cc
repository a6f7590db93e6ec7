// JMS message headers and properties as selector operands; body sizes.
#include "broker/jms/message.h"

namespace mqlab::broker::jms {

value to_value(const property& p) {
  return std::visit(
      [](const auto& x) -> value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_floating_point_v<T>) return static_cast<double>(x);
        else return static_cast<std::int64_t>(x);
      },
      p);
}

value message::lookup(std::string_view id) const {
  // JMS 1.1 §3.8.1.1: the header fields a selector may name; JMSDeliveryMode reads as a string.
  if (id.starts_with("JMS")) {
    if (id == "JMSPriority") return std::int64_t{priority};
    if (id == "JMSType") return spec.type.empty() ? value{} : value{spec.type};
    if (id == "JMSCorrelationID") return spec.correlation_id.empty() ? value{} : value{spec.correlation_id};
    if (id == "JMSMessageID") return message_id;
    if (id == "JMSTimestamp") return timestamp_ms;
    if (id == "JMSDeliveryMode") return std::string(persistent() ? "PERSISTENT" : "NON_PERSISTENT");
  }
  auto it = spec.properties.find(id);
  return it == spec.properties.end() ? value{} : to_value(it->second);
}

std::size_t body_size(const body& b) {
  return std::visit(
      [](const auto& x) -> std::size_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, text_body>) return x.text.size();
        else if constexpr (std::is_same_v<T, bytes_body> || std::is_same_v<T, object_body>) return x.bytes.size();
        else if constexpr (std::is_same_v<T, map_body>) {
          std::size_t n = 0;
          for (const auto& [k, v] : x.entries) n += k.size() + 8;
          return n;
        } else if constexpr (std::is_same_v<T, stream_body>) {
          return x.items.size() * 8;
        } else {
          return 0;
        }
      },
      b);
}

}  // namespace mqlab::broker::jms
