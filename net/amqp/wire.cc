// AMQP wire types: big-endian integers, strings, bits and field tables.
#include "net/amqp/wire.h"

#include <bit>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "net/byte_order.h"

namespace mqlab::net::amqp {

namespace {

// Nested tables deeper than this are refused: a hostile frame must not exhaust the stack.
constexpr int max_table_depth = 32;
thread_local int table_depth = 0;

struct depth_guard {
  depth_guard() {
    if (++table_depth > max_table_depth) {
      --table_depth;
      throw wire_error{reply_code::syntax_error, "field table nested too deeply"};
    }
  }
  ~depth_guard() { --table_depth; }
};

}  // namespace

void wire_reader::need(std::size_t n) const {
  if (in_.size() - pos_ < n) {
    throw wire_error{reply_code::syntax_error,
                     fmt::format("truncated field: need {} bytes at offset {}, {} left", n, pos_, in_.size() - pos_)};
  }
}

std::string_view wire_reader::take(std::size_t n) {
  bit_index_ = 8;
  need(n);
  auto s = in_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::uint8_t wire_reader::octet() { return static_cast<std::uint8_t>(take(1)[0]); }
std::uint16_t wire_reader::short_uint() { return load_be<std::uint16_t>(take(2).data()); }
std::uint32_t wire_reader::long_uint() { return load_be<std::uint32_t>(take(4).data()); }
std::uint64_t wire_reader::longlong_uint() { return load_be<std::uint64_t>(take(8).data()); }

bool wire_reader::bit() {
  if (bit_index_ == 8) {
    bits_ = octet();
    bit_index_ = 0;
  }
  return (bits_ >> bit_index_++) & 1;
}

std::string_view wire_reader::shortstr() { return take(octet()); }
std::string_view wire_reader::longstr_view() { return take(long_uint()); }

field_table wire_reader::table() {
  depth_guard guard;
  wire_reader r(longstr_view());
  field_table t;
  while (r.remaining() > 0) {
    std::string key(r.shortstr());
    t.emplace_back(std::move(key), r.value());
  }
  return t;
}

field_value wire_reader::value() {
  const char type = static_cast<char>(octet());
  switch (type) {
    case 't': return octet() != 0;
    case 'b': return static_cast<std::int8_t>(octet());
    case 'B': return octet();
    case 's': return static_cast<std::int16_t>(short_uint());
    case 'u': return short_uint();
    case 'I': return static_cast<std::int32_t>(long_uint());
    case 'i': return long_uint();
    case 'l': return static_cast<std::int64_t>(longlong_uint());
    case 'f': return std::bit_cast<float>(long_uint());
    case 'd': return std::bit_cast<double>(longlong_uint());
    case 'D': {
      const std::uint8_t scale = octet();
      return broker::amqp::decimal{scale, static_cast<std::int32_t>(long_uint())};
    }
    case 'S': case 'x': return std::string(longstr_view());
    case 'T': return broker::amqp::timestamp{longlong_uint()};
    case 'F': return table();
    case 'A': {
      depth_guard guard;
      wire_reader r(longstr_view());
      broker::amqp::field_array a;
      while (r.remaining() > 0) a.push_back(r.value());
      return a;
    }
    case 'V': return {};
    default:
      throw wire_error{reply_code::syntax_error, fmt::format("unknown field-table type '{}'", type)};
  }
}

void wire_writer::octet(std::uint8_t v) { flush_bits(); out_.push_back(static_cast<char>(v)); }
void wire_writer::short_uint(std::uint16_t v) { flush_bits(); append_be(out_, v); }
void wire_writer::long_uint(std::uint32_t v) { flush_bits(); append_be(out_, v); }
void wire_writer::longlong_uint(std::uint64_t v) { flush_bits(); append_be(out_, v); }

void wire_writer::bit(bool v) {
  if (bit_pos_ == std::string::npos || bit_index_ == 8) {
    out_.push_back('\0');
    bit_pos_ = out_.size() - 1;
    bit_index_ = 0;
  }
  if (v) out_[bit_pos_] = static_cast<char>(out_[bit_pos_] | (1 << bit_index_));
  ++bit_index_;
}

void wire_writer::shortstr(std::string_view s) {
  // Reply texts can outgrow a short string; RabbitMQ truncates them too.
  const auto n = std::min<std::size_t>(s.size(), 255);
  octet(static_cast<std::uint8_t>(n));
  out_.append(s.substr(0, n));
}

void wire_writer::long_string(std::string_view s) {
  long_uint(static_cast<std::uint32_t>(s.size()));
  out_.append(s);
}

void wire_writer::table(const field_table& t) {
  const auto at = open_length();
  for (const auto& [k, v] : t) {
    shortstr(k);
    value(v);
  }
  close_length(at);
}

std::size_t wire_writer::open_length() {
  long_uint(0);
  return out_.size() - 4;
}

void wire_writer::close_length(std::size_t at) {
  auto size = static_cast<std::uint32_t>(out_.size() - at - 4);
  if constexpr (std::endian::native == std::endian::little) size = std::byteswap(size);
  std::memcpy(out_.data() + at, &size, 4);
}

void wire_writer::value(const field_value& fv) {
  std::visit(
      [this](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) { octet('V'); }
        else if constexpr (std::is_same_v<T, bool>) { octet('t'); octet(x ? 1 : 0); }
        else if constexpr (std::is_same_v<T, std::int8_t>) { octet('b'); octet(static_cast<std::uint8_t>(x)); }
        else if constexpr (std::is_same_v<T, std::uint8_t>) { octet('B'); octet(x); }
        else if constexpr (std::is_same_v<T, std::int16_t>) { octet('s'); short_uint(static_cast<std::uint16_t>(x)); }
        else if constexpr (std::is_same_v<T, std::uint16_t>) { octet('u'); short_uint(x); }
        else if constexpr (std::is_same_v<T, std::int32_t>) { octet('I'); long_uint(static_cast<std::uint32_t>(x)); }
        else if constexpr (std::is_same_v<T, std::uint32_t>) { octet('i'); long_uint(x); }
        else if constexpr (std::is_same_v<T, std::int64_t>) { octet('l'); longlong_uint(static_cast<std::uint64_t>(x)); }
        else if constexpr (std::is_same_v<T, float>) { octet('f'); long_uint(std::bit_cast<std::uint32_t>(x)); }
        else if constexpr (std::is_same_v<T, double>) { octet('d'); longlong_uint(std::bit_cast<std::uint64_t>(x)); }
        else if constexpr (std::is_same_v<T, broker::amqp::decimal>) {
          octet('D'); octet(x.scale); long_uint(static_cast<std::uint32_t>(x.value));
        }
        else if constexpr (std::is_same_v<T, std::string>) { octet('S'); long_string(x); }
        else if constexpr (std::is_same_v<T, broker::amqp::timestamp>) { octet('T'); longlong_uint(x.seconds); }
        else if constexpr (std::is_same_v<T, std::shared_ptr<field_table>>) { octet('F'); table(*x); }
        else {
          octet('A');
          const auto at = open_length();
          for (const auto& e : *x) value(e);
          close_length(at);
        }
      },
      fv.v);
}

}  // namespace mqlab::net::amqp
