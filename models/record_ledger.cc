// Duplicate and order bookkeeping per key.
#include "models/record_ledger.h"

#include <algorithm>

namespace mqlab::models {

void record_ledger::finish(const record_stamp& s, std::int64_t now_ns) {
  if (s.key >= 0) {
    auto& seen = seen_[s.key];
    if (seen.size() <= s.sequence) seen.resize(s.sequence + 1, false);
    if (seen[s.sequence]) {
      ++duplicates_;  // delivered again after a rebalance
      return;
    }
    seen[s.sequence] = true;
    auto& high = highest_[s.key];
    if (s.sequence + 1 < high) ++order_violations_;
    high = std::max<std::uint64_t>(high, s.sequence + 1);
  }
  if (s.measured) {
    ++consumed_;
    e2e_.record(now_ns - s.created_ns);
  }
}

}  // namespace mqlab::models
