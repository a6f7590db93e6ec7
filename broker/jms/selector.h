// JMS message selectors (JMS 1.1 §3.8.1): the SQL-92 conditional subset over message headers
// and properties — literals, identifiers, arithmetic, comparisons, AND/OR/NOT with SQL's
// three-valued logic for NULL, LIKE with ESCAPE, IN, BETWEEN, IS [NOT] NULL. A selector is
// compiled once (per consumer) and evaluated per message; a syntax error names its column,
// as ActiveMQ's InvalidSelectorException does.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace mqlab::broker::jms {

/// A selector operand: absent (NULL), boolean, exact or approximate number, or string.
using value = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

/// How a selector reads a message: the value of a header (JMSPriority, JMSType, ...) or property.
/// A non-owning reference to a callable (two pointers, no allocation): evaluation is on the
/// per-message hot path, and the callable only has to outlive the matches() call.
class value_source {
 public:
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, value_source> && std::is_invocable_r_v<value, F&, std::string_view>)
  value_source(F&& f)  // NOLINT(google-explicit-constructor)
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, std::string_view id) -> value { return (*static_cast<std::remove_reference_t<F>*>(o))(id); }) {}
  value operator()(std::string_view identifier) const { return call_(object_, identifier); }

 private:
  void* object_;
  value (*call_)(void*, std::string_view);
};

struct selector_error {
  int column = 0;  // 1-based position in the selector text
  std::string message;
};

class selector {
 public:
  /// Parses `text`; an empty selector selects every message.
  static std::expected<selector, selector_error> compile(std::string_view text);

  /// True only when the condition is TRUE (FALSE and UNKNOWN both reject the message).
  bool matches(const value_source& message) const;
  const std::string& text() const { return text_; }

  struct node;

 private:
  std::string text_;
  std::shared_ptr<const node> root_;  // null: select everything
};

}  // namespace mqlab::broker::jms
