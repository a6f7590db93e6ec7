// An append-only log of records in segment files, as Kafka's partition logs and RabbitMQ's
// message store keep theirs: each record is framed as [u32 length][u32 CRC-32C][payload] (big
// endian), segments are files named by a 20-digit base the caller chooses (an offset, a
// sequence), a new one starts once the active one reaches the segment size, and closed ones are
// deleted whole once the caller no longer needs them. Opening a log replays every record and
// repairs a torn tail: the active segment is cut after its last whole record, since a crash can
// only have interrupted the last write. Damage anywhere else is corruption, reported, never
// silently skipped.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/storage/file.h"

namespace mqlab::net::storage {

/// The largest record written or accepted when reading back: a longer length is damage.
inline constexpr std::uint32_t max_record_bytes = 256u << 20;
/// The segment files' name ends so.
inline constexpr std::string_view segment_suffix = ".seg";
/// [u32 length][u32 CRC-32C] before each payload.
inline constexpr std::size_t record_header_bytes = 8;

/// What opening a log found.
struct recovery_report {
  std::uint64_t segments = 0, records = 0;
  std::uint64_t torn_bytes = 0;  // cut from the active segment's tail (a write the crash interrupted)
  std::string corruption;        // damage recovery cannot repair (a closed segment), with the file and place
};

class segment_log {
 public:
  /// One record: the segment it is in, where its framing starts there, and its payload.
  using replay_fn = std::function<void(std::uint64_t segment_base, std::uint64_t position, std::string_view payload)>;

  /// Opens the log in `dir` (created if absent), calling `replay` for each record in order. With
  /// `repair`, a torn tail is cut off the file; without (a check), it is only reported. Fails on
  /// I/O errors; damage is in the report.
  static std::expected<segment_log, std::string> open(const std::filesystem::path& dir, std::uint64_t segment_bytes,
                                                      const replay_fn& replay, recovery_report& report,
                                                      bool repair = true);

  /// Appends one record. When the active segment has reached the segment size (or there is
  /// none), a segment named `base` starts first; `base` must exceed every existing segment's.
  /// Not yet durable: hand active() to a flusher.
  std::expected<void, std::string> append(std::string_view payload, std::uint64_t base);
  /// Where the last record appended starts in the active segment.
  std::uint64_t last_position() const { return last_position_; }
  /// Starts a segment named `base` now, whatever the active one's size (a snapshot begins).
  std::expected<void, std::string> roll(std::uint64_t base);
  /// Deletes closed segments whose records all lie below `base`: those followed by a segment
  /// whose base is at or below it. Returns their bases, so that the files kept beside them can go too.
  std::vector<std::uint64_t> drop_segments_below(std::uint64_t base);
  /// Deletes every segment (the log starts over at the next append).
  void clear();

  /// The segment appends go to (null before the first), and its base.
  const std::shared_ptr<append_file>& active() const { return active_; }
  std::uint64_t active_base() const { return active_base_; }
  std::size_t segment_count() const { return segments_.size(); }
  const std::filesystem::path& dir() const { return dir_; }
  /// Every segment's base, oldest first, the active one's last.
  std::vector<std::uint64_t> bases() const;
  /// The path of the segment named `base`, or of a file kept beside it with `suffix` instead
  /// of the segment's.
  std::filesystem::path segment_path(std::uint64_t base, std::string_view suffix = segment_suffix) const;
  /// Bytes on disk, framing included.
  std::uint64_t bytes() const;

 private:
  segment_log(std::filesystem::path dir, std::uint64_t segment_bytes) : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

  std::filesystem::path dir_;
  std::uint64_t segment_bytes_;
  std::map<std::uint64_t, std::uint64_t> segments_;  // base -> bytes of the closed ones
  std::uint64_t active_base_ = 0, last_position_ = 0;
  std::shared_ptr<append_file> active_;
};

/// [length][CRC][payload] as a segment holds it.
std::string frame_record(std::string_view payload);
/// The payload of one whole framed record (a small file written with frame_record), or nullopt
/// if the bytes are not exactly one record with a matching CRC.
std::optional<std::string_view> unframe_record(std::string_view bytes);

}  // namespace mqlab::net::storage
