// AMQP 0-9-1 data types on the wire (spec §4.2.5): big-endian integers, short and long strings,
// bits packed into octets, and RabbitMQ's field-table types. A reader over received bytes and a
// writer appending to a buffer; no sockets. The reader throws wire_error on truncated or malformed
// input; the frame codec catches it at its edge and turns it into a connection error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/amqp/field_table.h"
#include "broker/amqp/reply_code.h"

namespace mqlab::net::amqp {

using broker::amqp::field_table;
using broker::amqp::field_value;
using broker::amqp::reply_code;

/// A protocol violation found while decoding: the reply code the connection closes with.
struct wire_error {
  reply_code code;
  std::string text;
};

/// A long string (32-bit length), distinct from the short strings most fields use.
struct longstr {
  std::string_view value;
};

/// Reads AMQP types from a byte range. Consecutive bits share an octet (spec §4.2.5.2).
class wire_reader {
 public:
  explicit wire_reader(std::string_view bytes) : in_(bytes) {}

  std::uint8_t octet();
  std::uint16_t short_uint();
  std::uint32_t long_uint();
  std::uint64_t longlong_uint();
  bool bit();
  std::string_view shortstr();
  std::string_view longstr_view();
  field_table table();
  std::string_view take(std::size_t n);
  std::size_t remaining() const { return in_.size() - pos_; }

  // One overload per field type, so method structs are read generically.
  void read(std::uint8_t& v) { v = octet(); }
  void read(std::uint16_t& v) { v = short_uint(); }
  void read(std::uint32_t& v) { v = long_uint(); }
  void read(std::uint64_t& v) { v = longlong_uint(); }
  void read(bool& v) { v = bit(); }
  void read(std::string_view& v) { v = shortstr(); }
  void read(longstr& v) { v.value = longstr_view(); }
  void read(field_table& v) { v = table(); }

 private:
  void need(std::size_t n) const;
  field_value value();
  std::string_view in_;
  std::size_t pos_ = 0;
  std::uint8_t bits_ = 0, bit_index_ = 8;  // 8 = no octet of bits in progress
};

/// Appends AMQP types to a buffer.
class wire_writer {
 public:
  explicit wire_writer(std::string& out) : out_(out) {}

  void octet(std::uint8_t v);
  void short_uint(std::uint16_t v);
  void long_uint(std::uint32_t v);
  void longlong_uint(std::uint64_t v);
  void bit(bool v);
  void shortstr(std::string_view s);
  void long_string(std::string_view s);
  void table(const field_table& t);
  void raw(std::string_view s) { flush_bits(); out_.append(s); }

  void write(std::uint8_t v) { octet(v); }
  void write(std::uint16_t v) { short_uint(v); }
  void write(std::uint32_t v) { long_uint(v); }
  void write(std::uint64_t v) { longlong_uint(v); }
  void write(bool v) { bit(v); }
  void write(std::string_view v) { shortstr(v); }
  void write(longstr v) { long_string(v.value); }
  void write(const field_table& v) { table(v); }

 private:
  void flush_bits() { bit_pos_ = std::string::npos; }
  void value(const field_value& v);
  std::size_t open_length();             // writes a 32-bit length to fill in later
  void close_length(std::size_t at);
  std::string& out_;
  std::size_t bit_pos_ = std::string::npos;  // offset of the octet collecting bits
  std::uint8_t bit_index_ = 0;
};

}  // namespace mqlab::net::amqp
