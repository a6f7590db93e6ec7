// An exchange and its bindings: the routing table of direct, fanout, topic and headers
// exchanges (AMQP 0-9-1 §3.1.3, RabbitMQ semantics). Destinations are queues or, for
// exchange-to-exchange bindings, other exchanges, named by small ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/amqp/field_table.h"
#include "broker/amqp/topic_matcher.h"

namespace mqlab::broker::amqp {

enum class exchange_type { direct, fanout, topic, headers };

/// Parses "direct", "fanout", "topic", "headers".
bool parse_exchange_type(std::string_view name, exchange_type& out);
const char* to_string(exchange_type t);

/// A binding destination: a queue or an exchange, by id.
struct destination {
  std::uint32_t id = 0;
  bool is_exchange = false;
  bool operator==(const destination&) const = default;
  std::uint32_t packed() const { return id << 1 | (is_exchange ? 1u : 0u); }
  static destination unpack(std::uint32_t p) { return {p >> 1, (p & 1u) != 0}; }
};

struct binding {
  destination dest;
  std::string key;
  field_table arguments;
};

class exchange {
 public:
  exchange(std::string name, exchange_type type, bool durable, bool auto_delete, bool internal, field_table args);

  const std::string& name() const { return name_; }
  exchange_type type() const { return type_; }
  bool durable() const { return durable_; }
  bool auto_delete() const { return auto_delete_; }
  bool internal() const { return internal_; }
  const field_table& arguments() const { return arguments_; }
  const std::vector<binding>& bindings() const { return bindings_; }

  /// Adds a binding; false if an identical one (destination, key, arguments) exists.
  bool bind(destination dest, std::string_view key, const field_table& args);
  /// Removes an identical binding; false if there was none.
  bool unbind(destination dest, std::string_view key, const field_table& args);
  /// Removes every binding to `dest` (its queue or exchange was deleted).
  void unbind_all(destination dest);

  /// Appends the destinations a message with this routing key and headers goes to.
  /// Duplicates are possible (several bindings to one queue); callers de-duplicate.
  void route(std::string_view routing_key, const field_table& headers, std::vector<destination>& out) const;

 private:
  void index_add(const binding& b);
  void index_remove(const binding& b);
  static bool headers_match(const field_table& binding_args, const field_table& headers);

  std::string name_;
  exchange_type type_;
  bool durable_, auto_delete_, internal_;
  field_table arguments_;
  std::vector<binding> bindings_;
  // Transparent hashing: a routing key (string_view) is looked up without building a string.
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<destination>, key_hash, std::equal_to<>> direct_;
  topic_matcher topic_;
  mutable std::vector<std::uint32_t> topic_scratch_;  // reused by route() to avoid allocation
};

}  // namespace mqlab::broker::amqp
