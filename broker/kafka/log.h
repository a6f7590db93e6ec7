// One partition's log: an append-only sequence of records in segments, with offsets, O(1)
// append, reads by offset, retention by time and by size applied whether or not anyone has
// consumed (a consumer that falls behind gets OFFSET_OUT_OF_RANGE), optional compaction by key
// (cleanup.policy=compact; a null value is a tombstone), lookup by timestamp and truncation.
//
// Replicas of one partition share their records: a follower's copy of what the leader wrote is
// a reference into the leader's blocks of records, not a second copy, as the replicas' segment
// files hold the same bytes. Blocks only grow, and only through the log whose view ends at a
// block's end, so a replica that diverges (a leader nobody followed, a truncation) writes into
// a block of its own and no log ever sees another's records change.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "broker/kafka/errors.h"
#include "broker/kafka/shared_bytes.h"

namespace mqlab::broker::kafka {

struct record {
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;
  shared_bytes key;                  // null: no key
  shared_bytes value;                // null: a tombstone
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;  // a null value is not an empty one
  std::size_t size_bytes() const;
};
/// What record::size_bytes() counts besides the key, value and headers: Kafka's framing of a
/// record in a batch (length, attributes, deltas, varints), which a record in memory does not hold.
inline constexpr std::size_t record_framing = 24;

struct log_config {
  std::size_t segment_bytes = 1 << 20;          // segment.bytes
  std::optional<std::int64_t> retention_ms;      // retention.ms (none: keep forever)
  std::optional<std::int64_t> retention_bytes;   // retention.bytes per partition
  bool compact = false;                          // cleanup.policy=compact
};

class partition_log {
 public:
  explicit partition_log(log_config config = {}) : config_(config) {}

  /// Appends, assigning the next offset; returns it. O(1) amortised.
  std::int64_t append(record r);
  /// Appends a leader's record at its own offset, as a follower does: a gap compaction left in
  /// the leader's log stays a gap. Ignored unless `r.offset` is at or past the log end.
  void append_replica(record r);
  /// Appends, by reference, every record `leader` holds past this log's end, at the leader's
  /// offsets; returns their bytes. REQUIRES: this log's records are a prefix of the leader's.
  std::uint64_t replicate_from(const partition_log& leader);
  /// First offset still in the log.
  std::int64_t log_start_offset() const { return start_offset_; }
  /// The offset the next record will get (LEO).
  std::int64_t log_end_offset() const { return next_offset_; }
  std::uint64_t size_bytes() const { return bytes_; }
  /// About what the records occupy in memory: each one's struct besides its key, value and
  /// headers (a compacted log's gaps count until their segment goes).
  std::uint64_t memory_bytes() const {
    return bytes_ + static_cast<std::uint64_t>(next_offset_ - start_offset_) * (sizeof(record) - record_framing);
  }

  /// Up to `max_records` records from `offset` (compacted logs may skip offsets), not beyond
  /// `limit` (exclusive; the high watermark for consumers). OFFSET_OUT_OF_RANGE when `offset`
  /// is before the log start or past the end.
  std::expected<std::vector<record>, error_code> read(std::int64_t offset, std::size_t max_records,
                                                      std::int64_t limit = INT64_MAX) const;
  /// Like read() without copying: calls f(const record&) for each record; returns how many, or
  /// OFFSET_OUT_OF_RANGE. The references are valid only during the call.
  template <typename F>
  std::expected<std::size_t, error_code> visit(std::int64_t offset, std::size_t max_records, std::int64_t limit,
                                               F&& f) const;
  /// The first offset whose timestamp is >= ts, or the log end offset.
  std::int64_t offset_for_timestamp(std::int64_t ts_ms) const;

  /// Deletes closed segments past retention.ms or beyond retention.bytes; returns records removed.
  std::size_t apply_retention(std::int64_t now_ms);
  /// Keeps only the newest record per key in closed segments (tombstones and all); returns
  /// records removed.
  std::size_t compact();
  /// Drops everything at or after `offset` (a returning replica truncating to the leader's log).
  void truncate_to(std::int64_t offset);
  /// Empties the log, which then starts at `offset` (a follower that fell behind the leader's
  /// log start offset starts over from there).
  void restart_at(std::int64_t offset);
  /// The lowest offset truncate_to() or restart_at() dropped records from since the last call
  /// (INT64_MAX: none), for a caller that mirrors the log elsewhere (a server's files).
  std::int64_t take_truncation() { return std::exchange(truncated_from_, INT64_MAX); }

 private:
  /// Records in offset order, shared by the logs that hold them.
  struct block {
    std::vector<record> records;
  };
  /// Records [begin, end) of a block, all in this log.
  struct run {
    std::shared_ptr<block> b;
    std::uint32_t begin = 0, end = 0;
    std::span<const record> records() const { return {b->records.data() + begin, end - begin}; }
  };

 public:
  /// Records of a log by reference, as a follower's fetch carries them in-process: they stay
  /// as they were whatever the log does next, and cost no copy.
  class slice {
   public:
    class iterator {
     public:
      using value_type = record;
      using difference_type = std::ptrdiff_t;
      const record& operator*() const { return (*runs_)[r_].records()[i_]; }
      const record* operator->() const { return &**this; }
      iterator& operator++() {
        if (++i_ == (*runs_)[r_].records().size()) ++r_, i_ = 0;
        return *this;
      }
      iterator operator++(int) {
        iterator was = *this;
        ++*this;
        return was;
      }
      bool operator==(const iterator& o) const { return r_ == o.r_ && i_ == o.i_; }

     private:
      friend class slice;
      iterator(const std::vector<run>* runs, std::size_t r) : runs_(runs), r_(r) {}
      const std::vector<run>* runs_ = nullptr;
      std::size_t r_ = 0, i_ = 0;
    };
    iterator begin() const { return {&runs_, 0}; }
    iterator end() const { return {&runs_, runs_.size()}; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    /// The records' size_bytes(), summed.
    std::uint64_t bytes() const { return bytes_; }

   private:
    friend class partition_log;
    std::vector<run> runs_;  // none empty
    std::size_t size_ = 0;
    std::uint64_t bytes_ = 0;
  };
  /// Like read(), by reference.
  std::expected<slice, error_code> share(std::int64_t offset, std::size_t max_records) const;
  /// Appends the records of `s` at or past this log's end, at their own offsets, by reference;
  /// returns their bytes. The slice's records must continue this log (a leader's, after align).
  std::uint64_t append_shared(const slice& s);

 private:
  struct segment {
    std::int64_t base_offset = 0;
    std::vector<run> runs;
    std::uint64_t bytes = 0;
    std::int64_t max_timestamp = INT64_MIN;
    std::size_t count() const;
  };
  /// Where the first record at or after an offset is: a run of a segment and a place in it.
  struct position {
    std::size_t segment = 0, run = 0, index = 0;
  };
  position find(std::int64_t offset) const;
  /// Calls f(run, index in the run) for each record from `offset` while f returns true.
  template <typename F>
  void walk(std::int64_t offset, F&& f) const;
  /// Adds record `i` of block `b` at the end of this log.
  void push(const std::shared_ptr<block>& b, std::uint32_t i);
  void store(record&& r);
  std::size_t drop_front_segment();

  static constexpr std::size_t block_records = 1024;

  log_config config_;
  std::deque<segment> segments_;  // the last one is active
  std::int64_t start_offset_ = 0;
  std::int64_t next_offset_ = 0;
  std::uint64_t bytes_ = 0;
  std::shared_ptr<block> tail_;  // the block this log's last record is in (null: start one)
  std::uint32_t tail_end_ = 0;   // the index after that record
  std::int64_t truncated_from_ = INT64_MAX;
};

template <typename F>
void partition_log::walk(std::int64_t offset, F&& f) const {
  const position at = find(offset);
  std::size_t index = at.index;
  for (std::size_t s = at.segment; s < segments_.size(); ++s) {
    const auto& runs = segments_[s].runs;
    for (std::size_t r = s == at.segment ? at.run : 0; r < runs.size(); ++r, index = 0) {
      for (; index < runs[r].end - runs[r].begin; ++index) {
        if (!f(runs[r], index)) return;
      }
    }
  }
}

template <typename F>
std::expected<std::size_t, error_code> partition_log::visit(std::int64_t offset, std::size_t max_records,
                                                            std::int64_t limit, F&& f) const {
  if (offset < start_offset_ || offset > next_offset_) return std::unexpected(error_code::offset_out_of_range);
  std::size_t n = 0;
  walk(offset, [&](const run& r, std::size_t i) {
    if (n == max_records) return false;
    const record& rec = r.b->records[r.begin + i];
    if (rec.offset >= limit) return false;
    f(rec);
    ++n;
    return true;
  });
  return n;
}

}  // namespace mqlab::broker::kafka
