// AMQP frame codec: frames, method arguments, content headers.
#include "net/amqp/codec.h"

#include <utility>

#include <fmt/format.h>

namespace mqlab::net::amqp {

namespace {

constexpr char frame_end = '\xCE';

template <typename M>
method read_method(wire_reader& r) {
  M m;
  std::apply([&r](auto&... f) { (r.read(f), ...); }, m.fields());
  return m;
}

// Finds the alternative whose ids match and reads it; false when no method has these ids.
template <std::size_t... I>
bool dispatch(std::uint32_t key, wire_reader& r, method& out, std::index_sequence<I...>) {
  return ((key == ((std::uint32_t{std::variant_alternative_t<I, method>::class_id} << 16) |
                   std::variant_alternative_t<I, method>::method_id_v) &&
           (out = read_method<std::variant_alternative_t<I, method>>(r), true)) ||
          ...);
}

// Content properties in flag order, bit 15 first (spec §4.2.6.1, class basic).
template <typename P, typename F>
void for_each_property(P& p, F&& f) {
  f(p.content_type);
  f(p.content_encoding);
  f(p.headers);
  f(p.delivery_mode);
  f(p.priority);
  f(p.correlation_id);
  f(p.reply_to);
  f(p.expiration);
  f(p.message_id);
  f(p.timestamp);
  f(p.type);
  f(p.user_id);
  f(p.app_id);
  f(p.cluster_id);
}

}  // namespace

std::expected<std::optional<frame>, wire_error> decode_frame(std::string_view in, std::uint32_t frame_max) {
  if (in.size() < 7) return std::nullopt;
  const auto type = static_cast<std::uint8_t>(in[0]);
  if (type != 1 && type != 2 && type != 3 && type != 8) {
    return std::unexpected(wire_error{reply_code::frame_error, fmt::format("unknown frame type {}", type)});
  }
  const std::uint32_t size = load_be<std::uint32_t>(in.data() + 3);
  if (frame_max != 0 && std::uint64_t{size} + frame_overhead > frame_max) {
    return std::unexpected(wire_error{reply_code::frame_error,
                                      fmt::format("frame size {} exceeds frame_max {}", size + frame_overhead, frame_max)});
  }
  if (in.size() < std::size_t{size} + frame_overhead) return std::nullopt;
  if (in[7 + size] != frame_end) {
    return std::unexpected(wire_error{reply_code::frame_error, "frame end octet is not 0xCE"});
  }
  const auto channel = static_cast<std::uint16_t>((static_cast<std::uint8_t>(in[1]) << 8) | static_cast<std::uint8_t>(in[2]));
  return frame{static_cast<frame_type>(type), channel, in.substr(7, size)};
}

std::expected<method, wire_error> decode_method(std::string_view payload) {
  try {
    wire_reader r(payload);
    const std::uint16_t class_id = r.short_uint();
    const std::uint16_t method_id = r.short_uint();
    method m;
    if (!dispatch((std::uint32_t{class_id} << 16) | method_id, r, m,
                  std::make_index_sequence<std::variant_size_v<method>>{})) {
      return std::unexpected(wire_error{reply_code::not_implemented,
                                        fmt::format("unknown method {}", method_name(class_id, method_id))});
    }
    return m;
  } catch (const wire_error& e) {
    return std::unexpected(e);
  }
}

std::expected<content_header, wire_error> decode_content_header(std::string_view payload) {
  try {
    wire_reader r(payload);
    content_header h;
    h.class_id = r.short_uint();
    r.short_uint();  // weight, unused
    h.body_size = r.longlong_uint();
    std::uint16_t flags = r.short_uint();
    if (flags & 1) {
      return std::unexpected(wire_error{reply_code::frame_error, "continued property flags are not supported"});
    }
    int bit = 15;
    for_each_property(h.properties, [&](auto& field) {
      if (!(flags & (1u << bit--))) return;
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<T, field_table>) {
        field = r.table();
      } else {
        using V = typename T::value_type;
        if constexpr (std::is_same_v<V, std::string>) field = std::string(r.shortstr());
        else if constexpr (std::is_same_v<V, std::uint8_t>) field = r.octet();
        else field = r.longlong_uint();
      }
    });
    return h;
  } catch (const wire_error& e) {
    return std::unexpected(e);
  }
}

namespace detail {

std::size_t begin_frame(std::string& out, frame_type type, std::uint16_t channel) {
  const auto at = out.size();
  const char header[7] = {static_cast<char>(type), static_cast<char>(channel >> 8), static_cast<char>(channel & 0xFF),
                          0, 0, 0, 0};
  out.append(header, sizeof header);
  return at;
}

void end_frame(std::string& out, std::size_t at) {
  store_be(out.data() + at + 3, static_cast<std::uint32_t>(out.size() - at - 7));
  out.push_back(frame_end);
}

}  // namespace detail

void write_content_header(std::string& out, const basic_properties& properties, std::uint64_t body_size) {
  wire_writer w(out);
  w.short_uint(60);
  w.short_uint(0);
  w.longlong_uint(body_size);
  const auto flags_at = out.size();
  w.short_uint(0);
  std::uint16_t flags = 0;
  int bit = 15;
  for_each_property(properties, [&](const auto& field) {
    const int b = bit--;
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, field_table>) {
      if (field.empty()) return;
      w.table(field);
    } else {
      if (!field) return;
      using V = typename T::value_type;
      if constexpr (std::is_same_v<V, std::string>) w.shortstr(*field);
      else if constexpr (std::is_same_v<V, std::uint8_t>) w.octet(*field);
      else w.longlong_uint(*field);
    }
    flags = static_cast<std::uint16_t>(flags | (1u << b));
  });
  out[flags_at] = static_cast<char>(flags >> 8);
  out[flags_at + 1] = static_cast<char>(flags & 0xFF);
}

void write_content(std::string& out, std::uint16_t channel, const basic_properties& properties,
                   std::string_view body, std::uint32_t frame_max) {
  auto at = detail::begin_frame(out, frame_type::header, channel);
  write_content_header(out, properties, body.size());
  detail::end_frame(out, at);

  const std::size_t chunk = frame_max == 0 ? body.size() : frame_max - frame_overhead;
  for (std::size_t off = 0; off < body.size(); off += chunk) {
    at = detail::begin_frame(out, frame_type::body, channel);
    out.append(body.substr(off, chunk));
    detail::end_frame(out, at);
  }
}

void write_frame(std::string& out, const frame& f) {
  const auto at = detail::begin_frame(out, f.type, f.channel);
  out.append(f.payload);
  detail::end_frame(out, at);
}

void write_heartbeat(std::string& out) {
  detail::end_frame(out, detail::begin_frame(out, frame_type::heartbeat, 0));
}

std::string method_name(std::uint16_t class_id, std::uint16_t method_id) {
  struct entry {
    std::uint16_t class_id, method_id;
    const char* name;
  };
  static constexpr entry names[] = {
      {10, 10, "connection.start"}, {10, 11, "connection.start_ok"}, {10, 20, "connection.secure"},
      {10, 21, "connection.secure_ok"}, {10, 30, "connection.tune"}, {10, 31, "connection.tune_ok"},
      {10, 40, "connection.open"}, {10, 41, "connection.open_ok"}, {10, 50, "connection.close"},
      {10, 51, "connection.close_ok"}, {10, 60, "connection.blocked"}, {10, 61, "connection.unblocked"},
      {20, 10, "channel.open"}, {20, 11, "channel.open_ok"}, {20, 20, "channel.flow"}, {20, 21, "channel.flow_ok"},
      {20, 40, "channel.close"}, {20, 41, "channel.close_ok"},
      {40, 10, "exchange.declare"}, {40, 11, "exchange.declare_ok"}, {40, 20, "exchange.delete"},
      {40, 21, "exchange.delete_ok"}, {40, 30, "exchange.bind"}, {40, 31, "exchange.bind_ok"},
      {40, 40, "exchange.unbind"}, {40, 51, "exchange.unbind_ok"},
      {50, 10, "queue.declare"}, {50, 11, "queue.declare_ok"}, {50, 20, "queue.bind"}, {50, 21, "queue.bind_ok"},
      {50, 30, "queue.purge"}, {50, 31, "queue.purge_ok"}, {50, 40, "queue.delete"}, {50, 41, "queue.delete_ok"},
      {50, 50, "queue.unbind"}, {50, 51, "queue.unbind_ok"},
      {60, 10, "basic.qos"}, {60, 11, "basic.qos_ok"}, {60, 20, "basic.consume"}, {60, 21, "basic.consume_ok"},
      {60, 30, "basic.cancel"}, {60, 31, "basic.cancel_ok"}, {60, 40, "basic.publish"}, {60, 50, "basic.return"},
      {60, 60, "basic.deliver"}, {60, 70, "basic.get"}, {60, 71, "basic.get_ok"}, {60, 72, "basic.get_empty"},
      {60, 80, "basic.ack"}, {60, 90, "basic.reject"}, {60, 100, "basic.recover_async"}, {60, 110, "basic.recover"},
      {60, 111, "basic.recover_ok"}, {60, 120, "basic.nack"},
      {85, 10, "confirm.select"}, {85, 11, "confirm.select_ok"},
      {90, 10, "tx.select"}, {90, 11, "tx.select_ok"}, {90, 20, "tx.commit"}, {90, 21, "tx.commit_ok"},
      {90, 30, "tx.rollback"}, {90, 31, "tx.rollback_ok"}};
  for (const auto& e : names) {
    if (e.class_id == class_id && e.method_id == method_id) return e.name;
  }
  return fmt::format("{}.{}", class_id, method_id);
}

}  // namespace mqlab::net::amqp
