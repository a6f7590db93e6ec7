// Segments are vectors of records; reads find the segment by base offset, then the record by
// offset (binary search both times, since compaction leaves gaps).
#include "broker/kafka/log.h"

#include <algorithm>
#include <unordered_map>

namespace mqlab::broker::kafka {

std::size_t record::size_bytes() const {
  std::size_t n = 24 + (key ? key->size() : 0) + value.size();
  for (const auto& [k, v] : headers) n += k.size() + v.size();
  return n;
}

std::vector<record>::const_iterator partition_log::segment::find(std::int64_t offset) const {
  const std::int64_t at = offset - base_offset;
  if (at <= 0) return records.begin();
  if (records.empty() || records.back().offset < offset) return records.end();
  if (at < static_cast<std::int64_t>(records.size()) && records[static_cast<std::size_t>(at)].offset == offset) {
    return records.begin() + at;
  }
  return std::lower_bound(records.begin(), records.end(), offset,
                          [](const record& r, std::int64_t o) { return r.offset < o; });
}

void partition_log::roll(std::int64_t base_offset) {
  // A new segment will likely hold as many records as the last one did: reserving that many
  // spares the doublings that would move every record of a busy partition again and again.
  const std::size_t expected = segments_.empty() ? 0 : segments_.back().records.size();
  segments_.push_back(segment{base_offset, {}, 0, INT64_MIN});
  segments_.back().records.reserve(expected);
}

std::int64_t partition_log::append(record r) {
  r.offset = next_offset_;
  store(std::move(r));
  return next_offset_ - 1;
}

void partition_log::append_replica(record r) {
  if (r.offset < next_offset_) return;
  store(std::move(r));
}

void partition_log::store(record r) {
  if (segments_.empty() || segments_.back().bytes >= config_.segment_bytes) roll(r.offset);
  next_offset_ = r.offset + 1;
  auto& seg = segments_.back();
  const std::size_t size = r.size_bytes();
  seg.bytes += size;
  bytes_ += size;
  seg.max_timestamp = std::max(seg.max_timestamp, r.timestamp_ms);
  seg.records.push_back(std::move(r));
}

std::expected<std::vector<record>, error_code> partition_log::read(std::int64_t offset, std::size_t max_records,
                                                                  std::int64_t limit) const {
  std::vector<record> out;
  auto n = visit(offset, max_records, limit, [&](const record& r) { out.push_back(r); });
  if (!n) return std::unexpected(n.error());
  return out;
}

std::int64_t partition_log::offset_for_timestamp(std::int64_t ts_ms) const {
  for (const auto& seg : segments_) {
    if (seg.max_timestamp < ts_ms) continue;
    for (const auto& r : seg.records) {
      if (r.timestamp_ms >= ts_ms) return r.offset;
    }
  }
  return next_offset_;
}

std::size_t partition_log::drop_front_segment() {
  const std::size_t n = segments_.front().records.size();
  bytes_ -= segments_.front().bytes;
  segments_.pop_front();
  start_offset_ = segments_.empty() ? next_offset_ : segments_.front().base_offset;
  return n;
}

std::size_t partition_log::apply_retention(std::int64_t now_ms) {
  // Only closed segments go, whole (Kafka never deletes part of a segment or the active one).
  std::size_t removed = 0;
  while (segments_.size() > 1) {
    const auto& front = segments_.front();
    const bool too_old = config_.retention_ms && front.max_timestamp < now_ms - *config_.retention_ms;
    const bool too_big = config_.retention_bytes &&
                         static_cast<std::int64_t>(bytes_ - front.bytes) >= *config_.retention_bytes &&
                         static_cast<std::int64_t>(bytes_) > *config_.retention_bytes;
    if (!too_old && !too_big) break;
    removed += drop_front_segment();
  }
  return removed;
}

std::size_t partition_log::compact() {
  if (segments_.size() < 2) return 0;
  // The newest offset of every key, over the whole log (the active segment included).
  std::unordered_map<std::string, std::int64_t> latest;
  for (const auto& seg : segments_) {
    for (const auto& r : seg.records) {
      if (r.key) latest[*r.key] = r.offset;
    }
  }
  std::size_t removed = 0;
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
    auto& seg = segments_[i];
    const std::size_t before = seg.records.size();
    std::erase_if(seg.records, [&](const record& r) {
      if (!r.key) return false;
      // Superseded records go; a tombstone that is the newest for its key goes too once it has
      // been seen by one cleaning (delete.retention.ms is modelled as one cleaning pass).
      return latest.at(*r.key) != r.offset || !r.value;
    });
    removed += before - seg.records.size();
    seg.bytes = 0;
    for (const auto& r : seg.records) seg.bytes += r.size_bytes();
  }
  bytes_ = 0;
  for (const auto& seg : segments_) bytes_ += seg.bytes;
  return removed;
}

void partition_log::truncate_to(std::int64_t offset) {
  while (!segments_.empty() && segments_.back().base_offset >= offset && segments_.size() > 1) {
    bytes_ -= segments_.back().bytes;
    segments_.pop_back();
  }
  if (!segments_.empty()) {
    auto& seg = segments_.back();
    while (!seg.records.empty() && seg.records.back().offset >= offset) {
      seg.bytes -= seg.records.back().size_bytes();
      bytes_ -= seg.records.back().size_bytes();
      seg.records.pop_back();
    }
  }
  next_offset_ = std::min(next_offset_, std::max(offset, start_offset_));
}

void partition_log::restart_at(std::int64_t offset) {
  segments_.clear();
  bytes_ = 0;
  start_offset_ = next_offset_ = offset;
}

}  // namespace mqlab::broker::kafka
