// Topic-exchange matching (RabbitMQ semantics): binding keys are dot-separated words where
// `*` matches exactly one word and `#` zero or more. Bindings are kept in a trie of words,
// so routing cost grows with the key's length, not with the number of bindings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mqlab::broker::amqp {

/// Maps binding patterns to destination ids (small integers chosen by the caller).
class topic_matcher {
 public:
  topic_matcher();
  ~topic_matcher();
  topic_matcher(topic_matcher&&) noexcept;
  topic_matcher& operator=(topic_matcher&&) noexcept;

  /// Adds (pattern -> destination); adding the same pair twice is a no-op.
  void add(std::string_view pattern, std::uint32_t destination);
  /// Removes (pattern -> destination) if present.
  void remove(std::string_view pattern, std::uint32_t destination);
  /// Appends every destination whose pattern matches `routing_key` (possibly with repeats).
  void match(std::string_view routing_key, std::vector<std::uint32_t>& out) const;

  /// True if a single pattern matches a key (the reference semantics, used in tests).
  static bool matches(std::string_view pattern, std::string_view routing_key);

 private:
  struct node;
  std::unique_ptr<node> root_;
};

}  // namespace mqlab::broker::amqp
