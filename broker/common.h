// Vocabulary shared by every personality of the broker core: the time the caller hands in
// and strong ids. The core never reads a clock: each call takes `now`.
#pragma once

#include <compare>
#include <cstdint>

namespace mqlab::broker {

/// A point in time in nanoseconds, virtual (simulation) or monotonic (network), as the caller sees it.
struct instant {
  std::int64_t ns = 0;
  auto operator<=>(const instant&) const = default;
  static constexpr instant never() { return {INT64_MAX}; }
  constexpr instant plus_ms(std::int64_t ms) const { return {ns + ms * 1'000'000}; }
};

/// A cluster node, numbered from 0.
struct node_id {
  std::uint32_t value = 0;
  auto operator<=>(const node_id&) const = default;
};

}  // namespace mqlab::broker
