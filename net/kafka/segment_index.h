// Kafka's two indexes beside each segment of a partition's log, in Kafka's entry formats: the
// offset index (`.index`, entries of [i32 offset relative to the segment's base][i32 position
// of a batch in the segment]) and the time index (`.timeindex`, [i64 timestamp][i32 relative
// offset]). Both are sparse as Kafka's are: an entry once more than index.interval.bytes (4096)
// of log were appended since the last, naming the batch just appended (its last offset) and the
// newest timestamp so far, so finding an offset or a time is a binary search and a scan of a few
// kilobytes. A segment that stops being active gets a last time entry, as in Kafka.
//
// The index is a pure function of what was appended to its segment, so recovery rebuilds it
// while it replays the segment and rewrites the files where they disagree (Kafka rebuilds a
// corrupt or missing index the same way).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/kafka/record_batch.h"

namespace mqlab::net::kafka {

/// Kafka's index.interval.bytes default.
inline constexpr std::uint64_t index_interval_bytes = 4096;
inline constexpr std::size_t offset_entry_bytes = 8, time_entry_bytes = 12;

class segment_index {
 public:
  /// The index of the segment whose offsets are relative to `base`.
  explicit segment_index(std::int64_t base) : base_(base) {}
  /// From the files' bytes; nullopt when a file is not a whole number of entries.
  static std::optional<segment_index> parse(std::int64_t base, std::string_view offsets, std::string_view times);

  /// A batch was appended at `position`, taking `bytes` of the segment.
  void appended(const batch_span& batch, std::uint64_t position, std::uint64_t bytes);
  /// Records from `offset` on were truncated away: entries at or above it go.
  void truncate(std::int64_t offset);
  /// The segment stops being the active one.
  void close();

  /// Where a read of `offset` starts: the position of the last indexed batch whose last offset
  /// is at or below `offset` (0 when there is none), as Kafka's OffsetIndex.lookup.
  std::uint64_t position_of(std::int64_t offset) const;
  /// The offset a search for the first record stamped at or after `timestamp` starts from: that
  /// of the last entry older than `timestamp` (the segment's base when there is none).
  std::int64_t offset_for_time(std::int64_t timestamp) const;

  /// The `.index` and `.timeindex` files' contents.
  const std::string& offset_bytes() const { return offsets_; }
  const std::string& time_bytes() const { return times_; }
  std::size_t entries() const { return offsets_.size() / offset_entry_bytes; }
  std::int64_t base() const { return base_; }

 private:
  std::int64_t offset_at(std::size_t entry) const;
  std::int64_t time_at(std::size_t entry) const;
  std::int64_t time_offset_at(std::size_t entry) const;
  void append_time(std::int64_t timestamp, std::int64_t offset);

  std::int64_t base_;
  std::string offsets_, times_;
  std::uint64_t since_entry_ = 0;  // log bytes appended since the last offset entry
  std::int64_t max_timestamp_ = -1, offset_of_max_ = -1;
};

}  // namespace mqlab::net::kafka
