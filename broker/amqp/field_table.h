// AMQP field tables (spec §4.2.5.5, with RabbitMQ's type set): the values of message headers
// and of declare/bind/consume arguments.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mqlab::broker::amqp {

struct field_value;
using field_table = std::vector<std::pair<std::string, field_value>>;  // in wire order
using field_array = std::vector<field_value>;

/// A decimal as on the wire: value / 10^scale.
struct decimal {
  std::uint8_t scale = 0;
  std::int32_t value = 0;
  auto operator<=>(const decimal&) const = default;
};

/// Timestamps are a distinct wire type ('T'): seconds since the epoch.
struct timestamp {
  std::uint64_t seconds = 0;
  auto operator<=>(const timestamp&) const = default;
};

struct field_value {
  using variant = std::variant<std::monostate, bool, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                               std::int32_t, std::uint32_t, std::int64_t, float, double, decimal, std::string,
                               timestamp, std::shared_ptr<field_table>, std::shared_ptr<field_array>>;
  variant v;

  field_value() = default;
  template <typename T>
    requires std::is_constructible_v<variant, T&&>
  field_value(T&& x) : v(std::forward<T>(x)) {}  // NOLINT(google-explicit-constructor)
  field_value(const char* s) : v(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  field_value(field_table t) : v(std::make_shared<field_table>(std::move(t))) {}  // NOLINT
  field_value(field_array a) : v(std::make_shared<field_array>(std::move(a))) {}  // NOLINT

  /// Integer value of any integral type (not bool), if it is one.
  std::optional<std::int64_t> as_integer() const;
  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  const field_table* as_table() const;
  const field_array* as_array() const;
  /// Deep equality, as RabbitMQ compares arguments and header values.
  bool operator==(const field_value& o) const;
};

/// The value of `key` in `table`, or nullptr.
const field_value* find(const field_table& table, std::string_view key);
/// Deep equality of two tables, independent of key order.
bool equivalent(const field_table& a, const field_table& b);
/// A short rendering for error texts: 'true', '42', 'abc'.
std::string describe(const field_value& v);

}  // namespace mqlab::broker::amqp
