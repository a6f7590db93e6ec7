// Destination names and options, and the virtual-topic naming convention.
#include "broker/jms/destination.h"

#include <fmt/format.h>

namespace mqlab::broker::jms {

std::string destination::to_string() const { return fmt::format("{}://{}", is_topic() ? "topic" : "queue", name); }

std::expected<destination_uri, std::string> parse_destination_uri(std::string_view text) {
  auto uri = split_options(text);
  if (uri && uri->name.empty()) return std::unexpected(fmt::format("'{}': the destination name is empty", text));
  return uri;
}

std::expected<destination_uri, std::string> split_options(std::string_view text) {
  destination_uri uri;
  const auto q = text.find('?');
  uri.name = std::string(text.substr(0, q));
  if (q == std::string_view::npos) return uri;
  std::string_view rest = text.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return std::unexpected(fmt::format("'{}': option '{}' is not key=value", text, pair));
    }
    uri.options[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return uri;
}

bool is_virtual_topic(std::string_view topic_name) { return topic_name.starts_with("VirtualTopic."); }

std::optional<std::string> virtual_topic_of_queue(std::string_view queue_name) {
  // Consumer.<group>.VirtualTopic.<name>: the group is one dot-free segment.
  constexpr std::string_view prefix = "Consumer.";
  if (!queue_name.starts_with(prefix)) return std::nullopt;
  const auto dot = queue_name.find('.', prefix.size());
  if (dot == std::string_view::npos || dot == prefix.size()) return std::nullopt;
  const std::string_view topic = queue_name.substr(dot + 1);
  if (!is_virtual_topic(topic) || topic.size() == std::string_view("VirtualTopic.").size()) return std::nullopt;
  return std::string(topic);
}

}  // namespace mqlab::broker::jms
