// Field-table comparisons and lookups.
#include "broker/amqp/field_table.h"

#include <algorithm>

#include <fmt/format.h>

namespace mqlab::broker::amqp {

std::optional<std::int64_t> field_value::as_integer() const {
  return std::visit(
      [](const auto& x) -> std::optional<std::int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<std::int64_t>(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

const field_table* field_value::as_table() const {
  const auto* p = std::get_if<std::shared_ptr<field_table>>(&v);
  return p ? p->get() : nullptr;
}

const field_array* field_value::as_array() const {
  const auto* p = std::get_if<std::shared_ptr<field_array>>(&v);
  return p ? p->get() : nullptr;
}

bool field_value::operator==(const field_value& o) const {
  // Integers of different widths compare by value, as Erlang terms do in RabbitMQ.
  const auto a = as_integer(), b = o.as_integer();
  if (a && b) return *a == *b;
  if (v.index() != o.v.index()) return false;
  if (const auto* t = as_table()) return equivalent(*t, *o.as_table());
  if (const auto* arr = as_array()) return *arr == *o.as_array();
  return v == o.v;
}

const field_value* find(const field_table& table, std::string_view key) {
  for (const auto& [k, value] : table) {
    if (k == key) return &value;
  }
  return nullptr;
}

bool equivalent(const field_table& a, const field_table& b) {
  if (a.size() != b.size()) return false;
  return std::all_of(a.begin(), a.end(), [&](const auto& entry) {
    const field_value* other = find(b, entry.first);
    return other != nullptr && *other == entry.second;
  });
}

std::string describe(const field_value& value) {
  if (const auto i = value.as_integer()) return fmt::format("{}", *i);
  if (const auto* s = value.as_string()) return *s;
  if (const auto* b = std::get_if<bool>(&value.v)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&value.v)) return fmt::format("{}", *d);
  if (std::holds_alternative<std::monostate>(value.v)) return "none";
  return "(table)";
}

}  // namespace mqlab::broker::amqp
