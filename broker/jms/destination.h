// JMS destinations as ActiveMQ names them: queues and topics, created on first use, with
// destination options after '?' ("TEST.QUEUE?consumer.prefetchSize=10"), and the virtual-topic
// naming convention (VirtualTopic.X consumed through Consumer.<group>.VirtualTopic.X).
#pragma once

#include <compare>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mqlab::broker::jms {

enum class destination_kind : std::uint8_t { queue, topic };

struct destination {
  destination_kind kind = destination_kind::queue;
  std::string name;
  auto operator<=>(const destination&) const = default;

  static destination queue(std::string name) { return {destination_kind::queue, std::move(name)}; }
  static destination topic(std::string name) { return {destination_kind::topic, std::move(name)}; }
  bool is_topic() const { return kind == destination_kind::topic; }
  /// "queue://orders" / "topic://prices", as ActiveMQ prints them.
  std::string to_string() const;
};

/// A destination name with its options, e.g. "orders?consumer.prefetchSize=10".
struct destination_uri {
  std::string name;
  std::map<std::string, std::string, std::less<>> options;
};
/// Splits "name?key=value&key=value"; an option without '=' or an empty name is an error.
std::expected<destination_uri, std::string> parse_destination_uri(std::string_view text);
/// The same split for any ActiveMQ URL ("tcp://host:61616?jms.prefetchPolicy.all=50"): the part
/// before '?' (possibly empty) and the options after it.
std::expected<destination_uri, std::string> split_options(std::string_view text);

/// For a queue named Consumer.<group>.VirtualTopic.X: the virtual topic "VirtualTopic.X".
std::optional<std::string> virtual_topic_of_queue(std::string_view queue_name);
/// True for topics named VirtualTopic.X, which fan out to their consumer queues.
bool is_virtual_topic(std::string_view topic_name);

}  // namespace mqlab::broker::jms
