// Duplicate and order bookkeeping per key.
#include "models/record_ledger.h"

#include <algorithm>

#include "models/system_model.h"

namespace mqlab::models {

bool record_ledger::key_history::first_time(std::uint32_t sequence) {
  // Grow by doubling: sequences arrive nearly in order, one past the end at a time.
  if (seen.size() <= sequence) seen.resize(std::max<std::size_t>(sequence + 1, 2 * seen.size()), false);
  if (seen[sequence]) return false;
  seen[sequence] = true;
  return true;
}

void record_ledger::finish_unkeyed(std::uint32_t id) {
  if (!unkeyed_.first_time(id)) ++duplicates_;
}

void record_ledger::finish(const record_stamp& s, std::int64_t now_ns) {
  if (s.key >= 0) {
    if (keys_.size() <= static_cast<std::size_t>(s.key)) keys_.resize(static_cast<std::size_t>(s.key) + 1);
    auto& key = keys_[static_cast<std::size_t>(s.key)];
    if (!key.first_time(s.sequence)) {
      ++duplicates_;  // delivered again (after a rebalance, a redelivery, a publish sent twice)
      return;
    }
    if (s.sequence + 1 < key.highest) ++order_violations_;
    key.highest = std::max<std::uint64_t>(key.highest, s.sequence + 1);
  }
  if (s.measured) {
    ++consumed_;
    e2e_.record(now_ns - s.created_ns);
  }
}

void group_ledgers::collect(std::map<std::string, double>& v, sim::histogram& e2e) const {
  double consumed = 0, duplicates = 0, violations = 0;
  for (const auto& [group, ledger] : groups_) {
    const std::string base = "kafka." + group;
    v[base + ".consumed"] = static_cast<double>(ledger.consumed());
    v[base + ".duplicates"] = static_cast<double>(ledger.duplicates());
    v[base + ".order_violations"] = static_cast<double>(ledger.order_violations());
    put_latency(v, base + ".e2e", ledger.e2e());
    consumed += static_cast<double>(ledger.consumed());
    duplicates += static_cast<double>(ledger.duplicates());
    violations += static_cast<double>(ledger.order_violations());
    e2e.merge(ledger.e2e());
  }
  v["kafka.consumed"] = consumed;
  v["kafka.duplicates"] = duplicates;
  v["order_violations"] = violations;
}

}  // namespace mqlab::models
