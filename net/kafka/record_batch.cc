// Record batch v2 decoding (with CRC-32C and length checks) and encoding.
#include "net/kafka/record_batch.h"

#include <algorithm>

#include <boost/crc.hpp>
#include <fmt/format.h>

#include "net/byte_order.h"
#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

namespace {

// Offsets within a batch (the fields before the records).
constexpr std::size_t length_at = 8, magic_at = 16, crc_at = 17, attributes_at = 21, last_delta_at = 23,
                      first_ts_at = 27, max_ts_at = 35, producer_id_at = 43, count_at = 57, header_size = 61;
constexpr std::int16_t codec_mask = 0x07, log_append_time = 0x08, control_batch = 0x20;

using crc32c_engine = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

record_set_error corrupt(std::string text) { return {error_code::corrupt_message, std::move(text)}; }

std::optional<std::string> owned(std::optional<std::string_view> s) {
  return s ? std::optional<std::string>(std::in_place, *s) : std::nullopt;
}

std::optional<std::string_view> varint_bytes(wire_reader& r) {
  const std::int32_t n = r.varint();
  if (n < -1) throw wire_error{fmt::format("length {}", n)};
  if (n == -1) return std::nullopt;
  return r.take(static_cast<std::size_t>(n));
}

record decode_record(wire_reader& in, std::int64_t first_timestamp) {
  const std::int32_t length = in.varint();
  if (length < 0) throw wire_error{fmt::format("record length {}", length)};
  wire_reader r(in.take(static_cast<std::size_t>(length)));
  record out;
  (void)r.int8();  // record attributes: unused by magic 2
  out.timestamp_ms = first_timestamp + r.varlong();
  out.offset = r.varint();  // a delta: the log assigns the real offset
  out.key = owned(varint_bytes(r));
  out.value = owned(varint_bytes(r));
  const std::int32_t headers = r.varint();
  if (headers < 0 || static_cast<std::size_t>(headers) > r.remaining()) throw wire_error{fmt::format("{} headers", headers)};
  for (std::int32_t i = 0; i < headers; ++i) {
    auto key = varint_bytes(r);
    auto value = varint_bytes(r);
    out.headers.emplace_back(std::string(key.value_or("")), std::string(value.value_or("")));
  }
  if (r.remaining() != 0) throw wire_error{fmt::format("{} bytes after the record's last field", r.remaining())};
  return out;
}

/// One batch of a record set; returns its size.
std::size_t decode_batch(std::string_view bytes, std::int64_t now_ms, std::vector<record>& out) {
  if (bytes.size() < header_size) throw wire_error{fmt::format("batch of {} bytes is shorter than its header", bytes.size())};
  const auto length = load_be<std::int32_t>(bytes.data() + length_at);
  if (length < static_cast<std::int32_t>(header_size - 12) || static_cast<std::size_t>(length) + 12 > bytes.size()) {
    throw wire_error{fmt::format("batch length {} with {} bytes present", length, bytes.size() - 12)};
  }
  const std::string_view batch = bytes.substr(0, static_cast<std::size_t>(length) + 12);
  if (batch[magic_at] != 2) throw wire_error{fmt::format("magic {} (only record batch v2 is accepted)", int(batch[magic_at]))};
  const auto crc = load_be<std::uint32_t>(batch.data() + crc_at);
  if (crc32c(batch.substr(attributes_at)) != crc) throw wire_error{"CRC-32C mismatch"};
  const auto attributes = load_be<std::int16_t>(batch.data() + attributes_at);
  if ((attributes & codec_mask) != 0) throw record_set_error{error_code::unsupported_compression_type,
                                                             fmt::format("compression codec {}", attributes & codec_mask)};
  if (attributes & control_batch) return batch.size();
  const std::int64_t first_ts = load_be<std::int64_t>(batch.data() + first_ts_at);
  const bool stamp_now = (attributes & log_append_time) || first_ts < 0;
  const auto count = load_be<std::int32_t>(batch.data() + count_at);
  wire_reader records(batch.substr(header_size));
  if (count < 0 || static_cast<std::size_t>(count) > records.remaining()) throw wire_error{fmt::format("{} records", count)};
  for (std::int32_t i = 0; i < count; ++i) {
    out.push_back(decode_record(records, stamp_now ? 0 : first_ts));
    if (stamp_now) out.back().timestamp_ms = now_ms;
  }
  if (records.remaining() != 0) throw wire_error{fmt::format("{} bytes after the batch's last record", records.remaining())};
  return batch.size();
}

void write_varint_bytes(wire_writer& w, const std::optional<std::string>& s) {
  if (!s) {
    w.varint(-1);
    return;
  }
  w.varint(static_cast<std::int32_t>(s->size()));
  w.raw(*s);
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes) {
  crc32c_engine crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::expected<std::vector<record>, record_set_error> decode_record_set(std::string_view set, std::int64_t now_ms) {
  if (set.empty()) return std::unexpected(corrupt("a produce request must carry at least one record batch"));
  std::vector<record> out;
  try {
    while (!set.empty()) set.remove_prefix(decode_batch(set, now_ms, out));
  } catch (const wire_error& e) {
    return std::unexpected(corrupt(e.text));
  } catch (const record_set_error& e) {
    return std::unexpected(e);
  }
  return out;
}

void batch_writer::add(const record& r) {
  if (count_ == 0) {
    start_ = out_.size();
    out_.append(header_size, '\0');
    base_offset_ = r.offset;
    first_timestamp_ = max_timestamp_ = r.timestamp_ms;
  }
  max_timestamp_ = std::max(max_timestamp_, r.timestamp_ms);
  last_offset_ = r.offset;
  scratch_.clear();
  wire_writer w(scratch_);
  w.int8(0);
  w.varlong(r.timestamp_ms - first_timestamp_);
  w.varint(static_cast<std::int32_t>(r.offset - base_offset_));
  write_varint_bytes(w, r.key);
  write_varint_bytes(w, r.value);
  w.varint(static_cast<std::int32_t>(r.headers.size()));
  for (const auto& [k, v] : r.headers) {
    w.varint(static_cast<std::int32_t>(k.size()));
    w.raw(k);
    w.varint(static_cast<std::int32_t>(v.size()));
    w.raw(v);
  }
  wire_writer(out_).varint(static_cast<std::int32_t>(scratch_.size()));
  out_.append(scratch_);
  ++count_;
}

void batch_writer::finish() {
  if (count_ == 0) return;
  char* h = out_.data() + start_;
  store_be(h, base_offset_);
  store_be(h + length_at, static_cast<std::int32_t>(out_.size() - start_ - 12));
  store_be(h + 12, std::int32_t{0});  // partition leader epoch
  h[magic_at] = 2;
  store_be(h + attributes_at, std::int16_t{0});
  store_be(h + last_delta_at, static_cast<std::int32_t>(last_offset_ - base_offset_));
  store_be(h + first_ts_at, first_timestamp_);
  store_be(h + max_ts_at, max_timestamp_);
  store_be(h + producer_id_at, std::int64_t{-1});
  store_be(h + producer_id_at + 8, std::int16_t{-1});
  store_be(h + producer_id_at + 10, std::int32_t{-1});
  store_be(h + count_at, static_cast<std::int32_t>(count_));
  store_be(h + crc_at, crc32c(std::string_view(out_).substr(start_ + attributes_at)));
  count_ = 0;
}

}  // namespace mqlab::net::kafka
