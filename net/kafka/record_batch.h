// Record batch v2 (kafka.apache.org/documentation/#recordbatch), the message format both
// Debian clients produce and read: a header with base offset, length, leader epoch, magic 2,
// a CRC-32C over attributes..end, and varint-framed records. Produce requests are decoded and
// verified into the broker core's records; fetch responses are encoded from them.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/kafka/errors.h"
#include "broker/kafka/log.h"

namespace mqlab::net::kafka {

using broker::kafka::error_code;
using broker::kafka::record;
using broker::kafka::shared_bytes;

struct record_set_error {
  error_code code;  // CORRUPT_MESSAGE (also a compressed batch that does not inflate), or
                    // UNSUPPORTED_COMPRESSION_TYPE (a codec beyond zstd)
  std::string text;
};

/// Decodes every batch of a record set (at least one, as Kafka requires of produce requests).
/// Offsets are the batch's base offset plus each record's delta (producers send base 0).
/// Records keep the producer's timestamps (CreateTime); a batch stamped LogAppendTime or
/// without a timestamp gets `now_ms`.
std::expected<std::vector<record>, record_set_error> decode_record_set(std::string_view set, std::int64_t now_ms);

/// The offsets and newest timestamp a batch holds, read from its header (the index entries of
/// a log segment need no more); nullopt when the bytes are shorter than a batch header.
struct batch_span {
  std::int64_t first_offset = 0, last_offset = 0, max_timestamp = 0;
};
std::optional<batch_span> read_batch_span(std::string_view batch);

/// Builds one uncompressed batch from consecutive log records into `out`.
class batch_writer {
 public:
  explicit batch_writer(std::string& out) : out_(out) {}
  void add(const record& r);
  /// Closes the batch (lengths, CRC); does nothing if no record was added.
  void finish();
  std::size_t records() const { return count_; }
  /// Bytes the batch holds so far.
  std::size_t size() const { return count_ == 0 ? 0 : out_.size() - start_; }

 private:
  std::string& out_;
  std::size_t start_ = 0, count_ = 0;
  std::int64_t base_offset_ = 0, first_timestamp_ = 0, max_timestamp_ = 0, last_offset_ = 0;
};

}  // namespace mqlab::net::kafka
