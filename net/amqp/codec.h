// The AMQP 0-9-1 frame codec (spec §4.2.3–§4.2.6): protocol header, method/header/body/heartbeat
// frames, method arguments and content-header properties, over byte buffers with no socket in
// sight. Decoding never throws and never reads past the input: a malformed frame comes back as
// an error carrying the reply code the connection must close with (501, 502, 505).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "broker/amqp/message.h"
#include "net/amqp/methods.h"
#include "net/amqp/wire.h"
#include "net/byte_order.h"

namespace mqlab::net::amqp {

using broker::amqp::basic_properties;

/// "AMQP" 0 0 9 1, sent by the client first; the server answers a mismatch with its own.
inline constexpr std::string_view protocol_header{"AMQP\x00\x00\x09\x01", 8};
/// Frames up to this size are always allowed, even before connection.tune (spec §4.2.3).
inline constexpr std::uint32_t frame_min_size = 4096;
inline constexpr std::size_t frame_overhead = 8;  // type, channel, size, frame-end

enum class frame_type : std::uint8_t { method = 1, header = 2, body = 3, heartbeat = 8 };

struct frame {
  frame_type type = frame_type::method;
  std::uint16_t channel = 0;
  std::string_view payload;  // a view into the decoded buffer
  std::size_t size() const { return payload.size() + frame_overhead; }
};

/// The first frame at the front of `in`; nullopt when more bytes are needed. Frames larger than
/// `frame_max` (0 = no limit), with a bad end octet or an unknown type are errors (501).
std::expected<std::optional<frame>, wire_error> decode_frame(std::string_view in, std::uint32_t frame_max);

/// A method frame's payload as a method; unknown methods → 540, bad arguments → 502.
std::expected<method, wire_error> decode_method(std::string_view payload);

/// True if `f` is a method frame of method M, read from its class and method ids alone (a relay
/// that passes frames through looks at a few of them without decoding any).
template <typename M>
bool is_method(const frame& f) {
  if (f.type != frame_type::method || f.payload.size() < 4) return false;
  return load_be<std::uint16_t>(f.payload.data()) == M::class_id &&
         load_be<std::uint16_t>(f.payload.data() + 2) == M::method_id_v;
}

/// A content-header frame's payload (spec §4.2.6).
struct content_header {
  std::uint16_t class_id = 60;
  std::uint64_t body_size = 0;
  basic_properties properties;
};
std::expected<content_header, wire_error> decode_content_header(std::string_view payload);

// --- encoding (appends to `out`) -------------------------------------------------------------

namespace detail {
/// Appends a frame header with a size to fill in; returns where the frame starts.
std::size_t begin_frame(std::string& out, frame_type type, std::uint16_t channel);
/// Fills in the size of the frame begun at `at` and appends the frame-end octet.
void end_frame(std::string& out, std::size_t at);
}  // namespace detail

/// Writes one method frame.
template <typename M>
void write_method(std::string& out, std::uint16_t channel, const M& m) {
  const auto at = detail::begin_frame(out, frame_type::method, channel);
  wire_writer w(out);
  w.short_uint(M::class_id);
  w.short_uint(M::method_id_v);
  std::apply([&w](const auto&... f) { (w.write(f), ...); }, m.fields());
  detail::end_frame(out, at);
}
inline void write_method(std::string& out, std::uint16_t channel, const method& m) {
  std::visit([&](const auto& x) { write_method(out, channel, x); }, m);
}
/// Appends a content header's payload (what decode_content_header reads).
void write_content_header(std::string& out, const basic_properties& properties, std::uint64_t body_size);
/// Writes a content header and the body split into frames no larger than `frame_max`.
void write_content(std::string& out, std::uint16_t channel, const basic_properties& properties,
                   std::string_view body, std::uint32_t frame_max);
void write_heartbeat(std::string& out);
/// Writes a decoded frame back out unchanged.
void write_frame(std::string& out, const frame& f);

/// "class.method" for logs and error texts, e.g. "basic.publish".
std::string method_name(std::uint16_t class_id, std::uint16_t method_id);
template <typename M>
std::string method_name(const M&) { return method_name(M::class_id, M::method_id_v); }

}  // namespace mqlab::net::amqp
