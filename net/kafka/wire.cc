// Kafka primitive types: big-endian integers, strings, bytes, arrays and zigzag varints.
#include "net/kafka/wire.h"

#include <fmt/format.h>

#include "net/byte_order.h"

namespace mqlab::net::kafka {


void wire_reader::need(std::size_t n) const {
  if (remaining() < n) {
    throw wire_error{fmt::format("truncated: need {} bytes at offset {}, {} left", n, pos_, remaining())};
  }
}

std::string_view wire_reader::take(std::size_t n) {
  need(n);
  auto s = in_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::int8_t wire_reader::int8() { return static_cast<std::int8_t>(take(1)[0]); }
std::int16_t wire_reader::int16() { return load_be<std::int16_t>(take(2).data()); }
std::int32_t wire_reader::int32() { return load_be<std::int32_t>(take(4).data()); }
std::int64_t wire_reader::int64() { return load_be<std::int64_t>(take(8).data()); }

std::uint64_t wire_reader::unsigned_varint(int max_bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < max_bytes; ++i) {
    const auto b = static_cast<std::uint8_t>(take(1)[0]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return v;
  }
  throw wire_error{fmt::format("varint longer than {} bytes at offset {}", max_bytes, pos_)};
}

std::int32_t wire_reader::varint() {
  const auto u = static_cast<std::uint32_t>(unsigned_varint(5));
  return static_cast<std::int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

std::int64_t wire_reader::varlong() {
  const auto u = unsigned_varint(10);
  return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

std::optional<std::string_view> wire_reader::nullable_string() {
  const std::int16_t n = int16();
  if (n < -1) throw wire_error{fmt::format("string length {} at offset {}", n, pos_ - 2)};
  if (n == -1) return std::nullopt;
  return take(static_cast<std::size_t>(n));
}

std::string_view wire_reader::string() {
  auto s = nullable_string();
  if (!s) throw wire_error{fmt::format("null string at offset {}", pos_ - 2)};
  return *s;
}

std::optional<std::string_view> wire_reader::nullable_bytes() {
  const std::int32_t n = int32();
  if (n < -1) throw wire_error{fmt::format("bytes length {} at offset {}", n, pos_ - 4)};
  if (n == -1) return std::nullopt;
  return take(static_cast<std::size_t>(n));
}

std::string_view wire_reader::bytes() {
  auto s = nullable_bytes();
  return s ? *s : std::string_view{};
}

std::optional<std::int32_t> wire_reader::nullable_array(std::size_t min_element_size) {
  const std::int32_t n = int32();
  if (n == -1) return std::nullopt;
  // A hostile count must not make the decoder reserve or loop beyond what the input can hold.
  if (n < 0 || static_cast<std::size_t>(n) * min_element_size > remaining()) {
    throw wire_error{fmt::format("array of {} elements at offset {} with {} bytes left", n, pos_ - 4, remaining())};
  }
  return n;
}

std::int32_t wire_reader::array(std::size_t min_element_size) { return nullable_array(min_element_size).value_or(0); }

void wire_writer::int8(std::int8_t v) { out_.push_back(static_cast<char>(v)); }
void wire_writer::int16(std::int16_t v) { append_be(out_, v); }
void wire_writer::int32(std::int32_t v) { append_be(out_, v); }
void wire_writer::int64(std::int64_t v) { append_be(out_, v); }

void wire_writer::unsigned_varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void wire_writer::string(std::string_view s) {
  int16(static_cast<std::int16_t>(s.size()));
  out_.append(s);
}

void wire_writer::nullable_string(const std::optional<std::string_view>& s) {
  if (s) string(*s);
  else int16(-1);
}

void wire_writer::bytes(std::string_view s) {
  int32(static_cast<std::int32_t>(s.size()));
  out_.append(s);
}

void wire_writer::nullable_bytes(const std::optional<std::string_view>& s) {
  if (s) bytes(*s);
  else int32(-1);
}

std::size_t wire_writer::size_placeholder() {
  const std::size_t at = out_.size();
  out_.append(4, '\0');
  return at;
}

void wire_writer::fill_size(std::size_t at) { store_be(out_.data() + at, static_cast<std::int32_t>(out_.size() - at - 4)); }

}  // namespace mqlab::net::kafka
