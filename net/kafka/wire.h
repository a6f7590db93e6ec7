// Kafka protocol primitive types (kafka.apache.org/protocol#protocol_types) for the
// non-flexible versions: big-endian integers, int16-length strings, int32-length bytes and
// arrays (-1 = null), and the zigzag varints of record batches. A reader over received bytes
// and a writer appending to a buffer; no sockets. The reader throws wire_error on truncated or
// malformed input; the request decoder catches it at its edge and closes the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mqlab::net::kafka {

/// Malformed input: why, for the server log.
struct wire_error {
  std::string text;
};

class wire_reader {
 public:
  explicit wire_reader(std::string_view bytes) : in_(bytes) {}

  std::int8_t int8();
  std::int16_t int16();
  std::int32_t int32();
  std::int64_t int64();
  bool boolean() { return int8() != 0; }
  /// Zigzag varint / varlong (record fields).
  std::int32_t varint();
  std::int64_t varlong();
  std::string_view string();
  std::optional<std::string_view> nullable_string();
  std::optional<std::string_view> nullable_bytes();
  std::string_view bytes();
  /// An array's element count; -1 (null) reads as nullopt. Counts that cannot fit in the
  /// remaining input at `min_element_size` bytes each are malformed.
  std::optional<std::int32_t> nullable_array(std::size_t min_element_size = 1);
  std::int32_t array(std::size_t min_element_size = 1);
  std::string_view take(std::size_t n);
  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }

 private:
  void need(std::size_t n) const;
  std::uint64_t unsigned_varint(int max_bytes);
  std::string_view in_;
  std::size_t pos_ = 0;
};

class wire_writer {
 public:
  explicit wire_writer(std::string& out) : out_(out) {}

  void int8(std::int8_t v);
  void int16(std::int16_t v);
  void int32(std::int32_t v);
  void int64(std::int64_t v);
  void boolean(bool v) { int8(v ? 1 : 0); }
  void varint(std::int32_t v) { unsigned_varint((static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31)); }
  void varlong(std::int64_t v) { unsigned_varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void string(std::string_view s);
  void nullable_string(const std::optional<std::string_view>& s);
  void bytes(std::string_view s);
  void nullable_bytes(const std::optional<std::string_view>& s);
  void array(std::size_t n) { int32(static_cast<std::int32_t>(n)); }
  void raw(std::string_view s) { out_.append(s); }
  /// Writes an int32 placeholder and returns where; fill_size() later stores the number of
  /// bytes written after it (message sizes, batch lengths).
  std::size_t size_placeholder();
  void fill_size(std::size_t at);
  std::size_t size() const { return out_.size(); }
  std::string& buffer() { return out_; }

 private:
  void unsigned_varint(std::uint64_t v);
  std::string& out_;
};

}  // namespace mqlab::net::kafka
