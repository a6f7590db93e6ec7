// Segments are lists of runs of shared blocks; reads find the segment by base offset, the run
// by its last offset, then the record by position while the run has no gaps (compaction leaves
// them) or by binary search.
#include "broker/kafka/log.h"

#include <algorithm>
#include <unordered_map>

namespace mqlab::broker::kafka {

std::size_t record::size_bytes() const {
  std::size_t n = record_framing + key.size() + value.size();
  for (const auto& [k, v] : headers) n += k.size() + (v ? v->size() : 0);
  return n;
}

std::size_t partition_log::segment::count() const {
  std::size_t n = 0;
  for (const auto& r : runs) n += r.end - r.begin;
  return n;
}

void partition_log::push(const std::shared_ptr<block>& b, std::uint32_t i) {
  const record& r = b->records[i];
  if (segments_.empty() || segments_.back().bytes >= config_.segment_bytes) {
    segments_.push_back(segment{r.offset, {}, 0, INT64_MIN});
  }
  auto& seg = segments_.back();
  if (!seg.runs.empty() && seg.runs.back().b == b && seg.runs.back().end == i) {
    ++seg.runs.back().end;
  } else {
    seg.runs.push_back(run{b, i, i + 1});
  }
  const std::size_t size = r.size_bytes();
  seg.bytes += size;
  bytes_ += size;
  seg.max_timestamp = std::max(seg.max_timestamp, r.timestamp_ms);
  next_offset_ = r.offset + 1;
  if (tail_ != b) tail_ = b;
  tail_end_ = i + 1;
}

void partition_log::store(record&& r) {
  // Write on into the block this log's last record is in while this log is that block's end;
  // otherwise (a full block, or one another replica has written past us) start a block.
  if (tail_ == nullptr || tail_end_ != tail_->records.size() || tail_end_ == block_records) {
    tail_ = std::make_shared<block>();
    tail_->records.reserve(block_records);
    tail_end_ = 0;
  }
  tail_->records.push_back(std::move(r));
  push(tail_, tail_end_);
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

std::uint64_t partition_log::replicate_from(const partition_log& leader) {
  if (next_offset_ >= leader.next_offset_) return 0;
  const auto lacking = leader.share(next_offset_, SIZE_MAX);
  return lacking ? append_shared(*lacking) : 0;
}

std::expected<partition_log::slice, error_code> partition_log::share(std::int64_t offset, std::size_t max_records) const {
  if (offset < start_offset_ || offset > next_offset_) return std::unexpected(error_code::offset_out_of_range);
  slice out;
  walk(offset, [&](const run& r, std::size_t i) {
    if (out.size_ == max_records) return false;
    const auto at = static_cast<std::uint32_t>(r.begin + i);
    if (out.runs_.empty() || out.runs_.back().b != r.b || out.runs_.back().end != at) out.runs_.push_back({r.b, at, at});
    ++out.runs_.back().end;
    ++out.size_;
    out.bytes_ += r.b->records[at].size_bytes();
    return true;
  });
  return out;
}

std::uint64_t partition_log::append_shared(const slice& s) {
  std::uint64_t bytes = 0;
  for (const run& r : s.runs_) {
    for (std::uint32_t i = r.begin; i < r.end; ++i) {
      const record& rec = r.b->records[i];
      if (rec.offset < next_offset_) continue;  // a stale or overlapping fetch
      push(r.b, i);
      bytes += rec.size_bytes();
    }
  }
  return bytes;
}

partition_log::position partition_log::find(std::int64_t offset) const {
  auto seg = std::upper_bound(segments_.begin(), segments_.end(), offset,
                              [](std::int64_t o, const segment& s) { return o < s.base_offset; });
  if (seg != segments_.begin()) --seg;
  position at{static_cast<std::size_t>(seg - segments_.begin()), 0, 0};
  if (seg == segments_.end()) return at;
  // The first run whose last record is at or after `offset`.
  const auto& runs = seg->runs;
  const auto r = std::partition_point(runs.begin(), runs.end(),
                                      [&](const run& x) { return x.records().back().offset < offset; });
  if (r == runs.end()) return {at.segment + 1, 0, 0};
  at.run = static_cast<std::size_t>(r - runs.begin());
  const auto records = r->records();
  const std::int64_t guess = offset - records.front().offset;
  if (guess <= 0) return at;
  if (guess < static_cast<std::int64_t>(records.size()) && records[static_cast<std::size_t>(guess)].offset == offset) {
    at.index = static_cast<std::size_t>(guess);
    return at;
  }
  at.index = static_cast<std::size_t>(std::partition_point(records.begin(), records.end(),
                                                           [&](const record& x) { return x.offset < offset; }) -
                                      records.begin());
  return at;
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
    for (const auto& run : seg.runs) {
      for (const auto& r : run.records()) {
        if (r.timestamp_ms >= ts_ms) return r.offset;
      }
    }
  }
  return next_offset_;
}

std::size_t partition_log::drop_front_segment() {
  const std::size_t n = segments_.front().count();
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
    for (const auto& run : seg.runs) {
      for (const auto& r : run.records()) {
        if (r.key) latest[std::string(*r.key)] = r.offset;
      }
    }
  }
  std::size_t removed = 0;
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
    auto& seg = segments_[i];
    // The survivors go to a block of this log's own: other replicas keep their records.
    auto kept = std::make_shared<block>();
    for (const auto& run : seg.runs) {
      for (const auto& r : run.records()) {
        // Superseded records go; a tombstone that is the newest for its key goes too once it
        // has been seen by one cleaning (delete.retention.ms is modelled as one cleaning pass).
        if (!r.key || (latest.at(std::string(*r.key)) == r.offset && r.value)) kept->records.push_back(r);
      }
    }
    removed += seg.count() - kept->records.size();
    seg.runs.clear();
    seg.bytes = 0;
    for (const auto& r : kept->records) seg.bytes += r.size_bytes();
    if (!kept->records.empty()) seg.runs.push_back(run{kept, 0, static_cast<std::uint32_t>(kept->records.size())});
  }
  bytes_ = 0;
  for (const auto& seg : segments_) bytes_ += seg.bytes;
  tail_.reset();
  return removed;
}

void partition_log::truncate_to(std::int64_t offset) {
  if (offset < next_offset_) truncated_from_ = std::min(truncated_from_, std::max(offset, start_offset_));
  while (!segments_.empty() && segments_.back().base_offset >= offset && segments_.size() > 1) {
    bytes_ -= segments_.back().bytes;
    segments_.pop_back();
  }
  if (!segments_.empty()) {
    auto& seg = segments_.back();
    // Runs only shrink: the records stay in their blocks for whichever logs still hold them.
    while (!seg.runs.empty() && seg.runs.back().records().back().offset >= offset) {
      auto& last = seg.runs.back();
      const std::size_t size = last.records().back().size_bytes();
      seg.bytes -= size;
      bytes_ -= size;
      if (--last.end == last.begin) seg.runs.pop_back();
    }
  }
  next_offset_ = std::min(next_offset_, std::max(offset, start_offset_));
  tail_.reset();
}

void partition_log::restart_at(std::int64_t offset) {
  if (start_offset_ < next_offset_) truncated_from_ = std::min(truncated_from_, start_offset_);
  segments_.clear();
  bytes_ = 0;
  start_offset_ = next_offset_ = offset;
  tail_.reset();
}

}  // namespace mqlab::broker::kafka
