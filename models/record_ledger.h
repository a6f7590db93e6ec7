// What Kafka consumers learn from the records they finish: end-to-end latency, duplicates
// (at-least-once redelivery after a rebalance) and per-key order, kept per consumer group,
// since every group reads every record. Producers stamp each record with a record_stamp; the
// simulated and the real Kafka side keep the same ledgers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/histogram.h"

namespace mqlab::models {

/// The front of every record's value.
struct record_stamp {
  std::int64_t created_ns;  // sim time of the request that produced it
  std::int32_t key;         // -1: no key
  std::uint32_t sequence;   // per key
  std::uint8_t measured;    // produced after the warm-up
};

class record_ledger {
 public:
  /// A consumer finished a record at `now_ns` (sim time).
  void finish(const record_stamp& s, std::int64_t now_ns);
  /// A consumer finished a message that has no key but an id of its own (a publish that may be
  /// sent again): only duplicates are counted, as there is no order to keep.
  void finish_unkeyed(std::uint32_t id);

  std::uint64_t consumed() const { return consumed_; }
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t order_violations() const { return order_violations_; }
  const sim::histogram& e2e() const { return e2e_; }

 private:
  struct key_history {
    std::vector<bool> seen;     // sequences consumed
    std::uint64_t highest = 0;  // highest sequence consumed + 1
    /// Marks `sequence` consumed; false (and a duplicate counted by the caller) if it was.
    bool first_time(std::uint32_t sequence);
  };
  std::vector<key_history> keys_;  // by key number
  key_history unkeyed_;
  sim::histogram e2e_;
  std::uint64_t consumed_ = 0, duplicates_ = 0, order_violations_ = 0;
};

/// One ledger per consumer group.
class group_ledgers {
 public:
  /// The ledger of `group`, made on first use; it stays where it is.
  record_ledger& of(const std::string& group) { return groups_[group]; }
  /// Per group `kafka.<group>.consumed`, `.duplicates`, `.order_violations` and `.e2e.*`; the
  /// totals over groups as `kafka.consumed`, `kafka.duplicates` and `order_violations`; every
  /// group's end-to-end latencies merged into `e2e`.
  void collect(std::map<std::string, double>& v, sim::histogram& e2e) const;

 private:
  std::map<std::string, record_ledger> groups_;
};

}  // namespace mqlab::models
