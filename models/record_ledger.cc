// Duplicate and order bookkeeping per key.
#include "models/record_ledger.h"

#include <algorithm>

namespace mqlab::models {

void record_ledger::finish(const record_stamp& s, std::int64_t now_ns) {
  if (s.key >= 0) {
    if (keys_.size() <= static_cast<std::size_t>(s.key)) keys_.resize(static_cast<std::size_t>(s.key) + 1);
    auto& key = keys_[static_cast<std::size_t>(s.key)];
    // Grow by doubling: sequences arrive nearly in order, one past the end at a time.
    if (key.seen.size() <= s.sequence) key.seen.resize(std::max<std::size_t>(s.sequence + 1, 2 * key.seen.size()), false);
    if (key.seen[s.sequence]) {
      ++duplicates_;  // delivered again after a rebalance
      return;
    }
    key.seen[s.sequence] = true;
    if (s.sequence + 1 < key.highest) ++order_violations_;
    key.highest = std::max<std::uint64_t>(key.highest, s.sequence + 1);
  }
  if (s.measured) {
    ++consumed_;
    e2e_.record(now_ns - s.created_ns);
  }
}

}  // namespace mqlab::models
