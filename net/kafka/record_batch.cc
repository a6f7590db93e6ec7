// Record batch v2 decoding (with CRC-32C and length checks) and encoding.
#include "net/kafka/record_batch.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "net/byte_order.h"
#include "net/crc32c.h"
#include "net/kafka/compression.h"
#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

namespace {

// Offsets within a batch (the fields before the records).
constexpr std::size_t length_at = 8, magic_at = 16, crc_at = 17, attributes_at = 21, last_delta_at = 23,
                      first_ts_at = 27, max_ts_at = 35, producer_id_at = 43, count_at = 57, header_size = 61;
constexpr std::int16_t codec_mask = 0x07, log_append_time = 0x08, control_batch = 0x20;

record_set_error corrupt(std::string text) { return {error_code::corrupt_message, std::move(text)}; }

std::optional<std::string_view> varint_bytes(wire_reader& r) {
  const std::int32_t n = r.varint();
  if (n < -1) throw wire_error{fmt::format("length {}", n)};
  if (n == -1) return std::nullopt;
  return r.take(static_cast<std::size_t>(n));
}

/// Where a batch's keys and values are copied: one allocation the size of the batch's records,
/// shared by them, rather than one per key and value (a retained record then costs its bytes
/// and little more).
struct batch_bytes {
  std::shared_ptr<char[]> chunk;
  std::size_t capacity = 0, used = 0;

  shared_bytes keep(const std::optional<std::string_view>& bytes) {
    if (!bytes) return std::nullopt;
    if (bytes->size() > capacity - used) throw wire_error{"keys and values larger than their records"};
    char* at = chunk.get() + used;
    std::memcpy(at, bytes->data(), bytes->size());
    used += bytes->size();
    return shared_bytes(chunk, at, bytes->size());
  }
};

record decode_record(wire_reader& in, std::int64_t base_offset, std::int64_t first_timestamp, batch_bytes& into) {
  const std::int32_t length = in.varint();
  if (length < 0) throw wire_error{fmt::format("record length {}", length)};
  wire_reader r(in.take(static_cast<std::size_t>(length)));
  record out;
  (void)r.int8();  // record attributes: unused by magic 2
  out.timestamp_ms = first_timestamp + r.varlong();
  out.offset = base_offset + r.varint();
  out.key = into.keep(varint_bytes(r));
  out.value = into.keep(varint_bytes(r));
  const std::int32_t headers = r.varint();
  if (headers < 0 || static_cast<std::size_t>(headers) > r.remaining()) throw wire_error{fmt::format("{} headers", headers)};
  for (std::int32_t i = 0; i < headers; ++i) {
    auto key = varint_bytes(r);
    if (!key) throw wire_error{"a header with a null key"};  // keys are strings; only values may be null
    auto value = varint_bytes(r);
    out.headers.emplace_back(std::string(*key), value ? std::optional<std::string>(*value) : std::nullopt);
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
  if ((attributes & codec_mask) > static_cast<int>(codec::zstd)) {
    throw record_set_error{error_code::unsupported_compression_type, fmt::format("compression codec {}", attributes & codec_mask)};
  }
  if (attributes & control_batch) return batch.size();
  const auto base_offset = load_be<std::int64_t>(batch.data());
  const std::int64_t first_ts = load_be<std::int64_t>(batch.data() + first_ts_at);
  const bool stamp_now = (attributes & log_append_time) || first_ts < 0;
  const auto count = load_be<std::int32_t>(batch.data() + count_at);
  // A compressed batch's records are one compressed blob; they are stored and served uncompressed.
  std::string inflated;
  std::string_view body = batch.substr(header_size);
  if (const auto c = static_cast<codec>(attributes & codec_mask); c != codec::none) {
    auto plain = decompress(c, body);
    if (!plain) throw corrupt(plain.error());
    inflated = std::move(*plain);
    body = inflated;
  }
  wire_reader records(body);
  if (count < 0 || static_cast<std::size_t>(count) > records.remaining()) throw wire_error{fmt::format("{} records", count)};
  out.reserve(out.size() + static_cast<std::size_t>(count));
  // Keys and values lie within the records' bytes, beside at least 7 bytes of each record's own
  // (its length, attributes, timestamp and offset deltas, key and value lengths, header count).
  const std::size_t room = std::max<std::size_t>(body.size() - std::min(body.size(), 7 * std::size_t(count)), 1);
  batch_bytes into{std::make_shared_for_overwrite<char[]>(room), room};
  for (std::int32_t i = 0; i < count; ++i) {
    out.push_back(decode_record(records, base_offset, stamp_now ? 0 : first_ts, into));
    if (stamp_now) out.back().timestamp_ms = now_ms;
  }
  if (records.remaining() != 0) throw wire_error{fmt::format("{} bytes after the batch's last record", records.remaining())};
  return batch.size();
}

std::uint64_t zigzag(std::int64_t v) { return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63); }

std::size_t varint_size(std::uint64_t zz) { return 1 + static_cast<std::size_t>(std::bit_width(zz | 1) - 1) / 7; }

std::size_t field_size(const std::optional<std::string_view>& s) {
  return s ? varint_size(zigzag(static_cast<std::int64_t>(s->size()))) + s->size() : 1;
}

// Appends a zigzag varint with one append instead of one push_back per byte.
void put_varint(std::string& out, std::int64_t v) {
  char buf[10];
  std::size_t n = 0;
  for (std::uint64_t zz = zigzag(v); ; zz >>= 7) {
    if (zz < 0x80) {
      buf[n++] = static_cast<char>(zz);
      break;
    }
    buf[n++] = static_cast<char>((zz & 0x7f) | 0x80);
  }
  out.append(buf, n);
}

void put_field(std::string& out, const std::optional<std::string_view>& s) {
  put_varint(out, s ? static_cast<std::int64_t>(s->size()) : -1);
  if (s) out.append(*s);
}

}  // namespace

std::optional<batch_span> read_batch_span(std::string_view batch) {
  if (batch.size() < header_size) return std::nullopt;
  const auto first = load_be<std::int64_t>(batch.data());
  return batch_span{first, first + load_be<std::int32_t>(batch.data() + last_delta_at),
                    load_be<std::int64_t>(batch.data() + max_ts_at)};
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
  const std::int64_t ts_delta = r.timestamp_ms - first_timestamp_, offset_delta = r.offset - base_offset_;
  // The record's length prefix comes first, so its size is computed before anything is written.
  std::size_t length = 1 + varint_size(zigzag(ts_delta)) + varint_size(zigzag(offset_delta)) + field_size(r.key.view()) +
                       field_size(r.value.view()) + varint_size(zigzag(static_cast<std::int64_t>(r.headers.size())));
  for (const auto& [k, v] : r.headers) length += field_size(k) + field_size(v);
  put_varint(out_, static_cast<std::int64_t>(length));
  out_.push_back('\0');  // record attributes
  put_varint(out_, ts_delta);
  put_varint(out_, offset_delta);
  put_field(out_, r.key.view());
  put_field(out_, r.value.view());
  put_varint(out_, static_cast<std::int64_t>(r.headers.size()));
  for (const auto& [k, v] : r.headers) {
    put_field(out_, k);
    put_field(out_, v);
  }
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
