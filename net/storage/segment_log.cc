// Segment files: framing, replay with torn-tail repair, rolling and deletion.
#include "net/storage/segment_log.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "net/byte_order.h"
#include "net/crc32c.h"

namespace mqlab::net::storage {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t base_digits = 20;

std::optional<std::uint64_t> segment_base(const fs::path& file) {
  const std::string name = file.filename().string();
  if (name.size() != base_digits + segment_suffix.size() || !name.ends_with(segment_suffix)) return std::nullopt;
  std::uint64_t base = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + base_digits, base);
  if (ec != std::errc{} || end != name.data() + base_digits) return std::nullopt;
  return base;
}

/// Replays the whole records of one segment; returns where the first damaged one starts and
/// why, or nullopt if the segment is whole.
std::optional<std::pair<std::uint64_t, std::string>> replay_segment(std::string_view bytes, std::uint64_t base,
                                                                    const segment_log::replay_fn& replay,
                                                                    recovery_report& report) {
  std::uint64_t at = 0;
  while (at < bytes.size()) {
    const std::string_view rest = bytes.substr(at);
    if (rest.size() < record_header_bytes) return std::pair{at, std::string("a record header cut short")};
    const auto length = load_be<std::uint32_t>(rest.data());
    if (length > max_record_bytes) return std::pair{at, fmt::format("a record length of {} bytes", length)};
    if (rest.size() - record_header_bytes < length) return std::pair{at, std::string("a record cut short")};
    const std::string_view payload = rest.substr(record_header_bytes, length);
    if (crc32c(payload) != load_be<std::uint32_t>(rest.data() + 4)) return std::pair{at, std::string("a CRC mismatch")};
    replay(base, at, payload);
    ++report.records;
    at += record_header_bytes + length;
  }
  return std::nullopt;
}

}  // namespace

std::string frame_record(std::string_view payload) {
  std::string out;
  out.reserve(record_header_bytes + payload.size());
  append_be(out, static_cast<std::uint32_t>(payload.size()));
  append_be(out, crc32c(payload));
  out.append(payload);
  return out;
}

std::optional<std::string_view> unframe_record(std::string_view bytes) {
  if (bytes.size() < record_header_bytes) return std::nullopt;
  const auto length = load_be<std::uint32_t>(bytes.data());
  if (bytes.size() - record_header_bytes != length) return std::nullopt;
  const std::string_view payload = bytes.substr(record_header_bytes);
  if (crc32c(payload) != load_be<std::uint32_t>(bytes.data() + 4)) return std::nullopt;
  return payload;
}

std::expected<segment_log, std::string> segment_log::open(const fs::path& dir, std::uint64_t segment_bytes,
                                                          const replay_fn& replay, recovery_report& report,
                                                          bool repair) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  std::vector<std::uint64_t> bases;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (auto base = segment_base(entry.path())) bases.push_back(*base);
  }
  if (ec) return std::unexpected(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  std::sort(bases.begin(), bases.end());
  segment_log log(dir, segment_bytes);
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const fs::path path = log.segment_path(bases[i]);
    auto bytes = read_file(path);
    if (!bytes) return std::unexpected(bytes.error());
    ++report.segments;
    const bool last = i + 1 == bases.size();
    std::uint64_t size = bytes->size();
    if (auto damage = replay_segment(*bytes, bases[i], replay, report)) {
      if (!last) {
        report.corruption = fmt::format("{}: {} at byte {}", path.string(), damage->second, damage->first);
        return log;
      }
      report.torn_bytes = size - damage->first;
      size = damage->first;
    }
    if (!last) {
      log.segments_[bases[i]] = size;
      continue;
    }
    auto file = append_file::open(path);
    if (!file) return std::unexpected(file.error());
    if (repair && (*file)->size() != size) {
      if (auto ok = (*file)->truncate(size); !ok) return std::unexpected(ok.error());
    }
    log.active_ = std::move(*file);
    log.active_base_ = bases[i];
  }
  return log;
}

fs::path segment_log::segment_path(std::uint64_t base, std::string_view suffix) const {
  return dir_ / fmt::format("{:020}{}", base, suffix);
}

std::vector<std::uint64_t> segment_log::bases() const {
  std::vector<std::uint64_t> out;
  for (const auto& [base, bytes] : segments_) out.push_back(base);
  if (active_) out.push_back(active_base_);
  return out;
}

std::expected<void, std::string> segment_log::append(std::string_view payload, std::uint64_t base) {
  if (payload.size() > max_record_bytes) {
    return std::unexpected(fmt::format("a record of {} bytes exceeds the limit of {}", payload.size(), max_record_bytes));
  }
  if (!active_ || (active_->size() >= segment_bytes_ && base > active_base_)) {
    if (auto ok = roll(base); !ok) return ok;
  }
  last_position_ = active_->size();
  return active_->append(frame_record(payload));
}

std::expected<void, std::string> segment_log::roll(std::uint64_t base) {
  if (active_ && base <= active_base_) {
    return std::unexpected(fmt::format("{}: a segment at {} cannot follow one at {}", dir_.string(), base, active_base_));
  }
  auto file = append_file::open(segment_path(base));
  if (!file) return std::unexpected(file.error());
  if (active_) segments_[active_base_] = active_->size();
  active_ = std::move(*file);
  active_base_ = base;
  return {};
}

std::vector<std::uint64_t> segment_log::drop_segments_below(std::uint64_t base) {
  std::vector<std::uint64_t> dropped;
  while (!segments_.empty()) {
    const auto first = segments_.begin();
    const auto next = std::next(first);
    const std::uint64_t successor = next == segments_.end() ? active_base_ : next->first;
    if (successor > base) break;
    std::error_code ignored;  // a file already gone is what we wanted
    fs::remove(segment_path(first->first), ignored);
    dropped.push_back(first->first);
    segments_.erase(first);
  }
  return dropped;
}

void segment_log::clear() {
  for (const auto& [base, bytes] : segments_) {
    std::error_code ignored;
    fs::remove(segment_path(base), ignored);
  }
  segments_.clear();
  if (active_) {
    std::error_code ignored;
    fs::remove(active_->path(), ignored);
    active_.reset();
  }
}

std::uint64_t segment_log::bytes() const {
  std::uint64_t total = active_ ? active_->size() : 0;
  for (const auto& [base, size] : segments_) total += size;
  return total;
}

}  // namespace mqlab::net::storage
