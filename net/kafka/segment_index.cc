// The sparse offset and time indexes of a log segment.
#include "net/kafka/segment_index.h"

#include <limits>

#include "net/byte_order.h"

namespace mqlab::net::kafka {

namespace {

/// The last entry for which `before(entry)` holds, in entries sorted by it; nullopt if none.
template <typename Before>
std::optional<std::size_t> last_entry(std::size_t count, Before before) {
  std::size_t lo = 0, hi = count;  // the answer's successor lies in [lo, hi]
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return std::nullopt;
  return lo - 1;
}

bool fits_relative(std::int64_t relative) {
  return relative >= std::numeric_limits<std::int32_t>::min() && relative <= std::numeric_limits<std::int32_t>::max();
}

}  // namespace

std::optional<segment_index> segment_index::parse(std::int64_t base, std::string_view offsets, std::string_view times) {
  if (offsets.size() % offset_entry_bytes != 0 || times.size() % time_entry_bytes != 0) return std::nullopt;
  segment_index index(base);
  index.offsets_ = offsets;
  index.times_ = times;
  return index;
}

std::int64_t segment_index::offset_at(std::size_t entry) const {
  return base_ + load_be<std::int32_t>(offsets_.data() + entry * offset_entry_bytes);
}

std::int64_t segment_index::time_at(std::size_t entry) const {
  return load_be<std::int64_t>(times_.data() + entry * time_entry_bytes);
}

std::int64_t segment_index::time_offset_at(std::size_t entry) const {
  return base_ + load_be<std::int32_t>(times_.data() + entry * time_entry_bytes + 8);
}

void segment_index::append_time(std::int64_t timestamp, std::int64_t offset) {
  const std::size_t count = times_.size() / time_entry_bytes;
  if (count > 0 && timestamp <= time_at(count - 1)) return;  // Kafka's maybeAppend: only a newer time
  append_be(times_, timestamp);
  append_be(times_, static_cast<std::int32_t>(offset - base_));
}

void segment_index::appended(const batch_span& batch, std::uint64_t position, std::uint64_t bytes) {
  if (batch.max_timestamp > max_timestamp_) {
    max_timestamp_ = batch.max_timestamp;
    offset_of_max_ = batch.last_offset;
  }
  // Kafka's LogSegment.append: an entry once more than the interval was appended since the
  // last one, before this batch's bytes are counted.
  const std::int64_t relative = batch.last_offset - base_;
  const bool newer = entries() == 0 || batch.last_offset > offset_at(entries() - 1);
  if (since_entry_ > index_interval_bytes && newer && fits_relative(relative) && position <= UINT32_MAX) {
    append_be(offsets_, static_cast<std::int32_t>(relative));
    append_be(offsets_, static_cast<std::uint32_t>(position));
    append_time(max_timestamp_, offset_of_max_);
    since_entry_ = 0;
  }
  since_entry_ += bytes;
}

void segment_index::truncate(std::int64_t offset) {
  const auto kept_offsets = last_entry(entries(), [&](std::size_t i) { return offset_at(i) < offset; });
  offsets_.resize(kept_offsets ? (*kept_offsets + 1) * offset_entry_bytes : 0);
  const auto kept_times =
      last_entry(times_.size() / time_entry_bytes, [&](std::size_t i) { return time_offset_at(i) < offset; });
  times_.resize(kept_times ? (*kept_times + 1) * time_entry_bytes : 0);
  // As Kafka's truncateTo: the newest time so far is the last entry's, and the interval restarts.
  max_timestamp_ = kept_times ? time_at(*kept_times) : -1;
  offset_of_max_ = kept_times ? time_offset_at(*kept_times) : -1;
  since_entry_ = 0;
}

void segment_index::close() {
  if (offset_of_max_ >= 0 && fits_relative(offset_of_max_ - base_)) append_time(max_timestamp_, offset_of_max_);
}

std::uint64_t segment_index::position_of(std::int64_t offset) const {
  const auto entry = last_entry(entries(), [&](std::size_t i) { return offset_at(i) <= offset; });
  return entry ? load_be<std::uint32_t>(offsets_.data() + *entry * offset_entry_bytes + 4) : 0;
}

std::int64_t segment_index::offset_for_time(std::int64_t timestamp) const {
  const auto entry = last_entry(times_.size() / time_entry_bytes, [&](std::size_t i) { return time_at(i) < timestamp; });
  return entry ? time_offset_at(*entry) : base_;
}

}  // namespace mqlab::net::kafka
