// The cluster's internal protocol: frames to bytes and back.
#include "net/amqp/peer_protocol.h"

#include <fmt/format.h>

#include "net/amqp/codec.h"
#include "net/byte_order.h"

namespace mqlab::net::amqp::peer {
namespace {

namespace core = broker::amqp;

enum class type : std::uint8_t {
  hello = 1, metadata, applied, forward, settled, mirror_push, mirror_delivered, mirror_drop, queue_removed, credit
};

// Frames larger than this are refused as corrupt rather than buffered.
constexpr std::uint32_t max_frame = 256u << 20;

type type_of(const frame& f) {
  if (std::holds_alternative<hello>(f)) return type::hello;
  if (std::holds_alternative<metadata>(f)) return type::metadata;
  if (std::holds_alternative<applied>(f)) return type::applied;
  if (std::holds_alternative<credit>(f)) return type::credit;
  switch (std::get<note>(f).what) {
    case note::kind::forward: return type::forward;
    case note::kind::settled: return type::settled;
    case note::kind::mirror_push: return type::mirror_push;
    case note::kind::mirror_delivered: return type::mirror_delivered;
    case note::kind::mirror_drop: return type::mirror_drop;
    case note::kind::queue_removed: return type::queue_removed;
  }
  return type::queue_removed;
}

void write_message(wire_writer& w, const core::message& m) {
  w.shortstr(m.exchange());
  w.shortstr(m.routing_key());
  std::string content;
  write_content(content, 0, *m.properties(), m.body(), 0);
  w.long_string(content);
}

core::message_ptr read_message(wire_reader& r) {
  std::string exchange(r.shortstr()), routing_key(r.shortstr());
  const std::string_view content = r.longstr_view();
  auto head = decode_frame(content, 0);
  if (!head || !*head || (*head)->type != frame_type::header) throw wire_error{reply_code::frame_error, "bad message content"};
  auto header = decode_content_header((*head)->payload);
  if (!header) throw header.error();
  std::string body;
  for (std::size_t pos = (*head)->size(); pos < content.size();) {
    auto part = decode_frame(content.substr(pos), 0);
    if (!part || !*part || (*part)->type != frame_type::body) throw wire_error{reply_code::frame_error, "bad message body"};
    body.append((*part)->payload);
    pos += (*part)->size();
  }
  if (body.size() != header->body_size) throw wire_error{reply_code::frame_error, "message body of the wrong size"};
  return core::make_message(std::move(exchange), std::move(routing_key), std::move(body),
                            std::make_shared<core::basic_properties>(std::move(header->properties)));
}

void write_body(wire_writer& w, const frame& f) {
  if (const auto* h = std::get_if<hello>(&f)) {
    w.long_uint(h->node);
    return w.shortstr(h->secret);
  }
  if (const auto* m = std::get_if<metadata>(&f)) {
    w.shortstr(m->vhost);
    std::string bytes;
    write_method(bytes, 0, m->change);
    w.long_string(bytes);
    w.longlong_uint(m->barrier);
    return;
  }
  if (const auto* a = std::get_if<applied>(&f)) return w.longlong_uint(a->barrier);
  if (const auto* c = std::get_if<credit>(&f)) return w.long_uint(c->count);
  const note& n = std::get<note>(f);
  w.shortstr(n.vhost);
  w.shortstr(n.queue);
  w.longlong_uint(n.sequence);
  w.long_uint(n.publish.node.value);
  w.long_uint(n.publish.channel.conn);
  w.short_uint(n.publish.channel.ch);
  w.longlong_uint(n.publish.sequence);
  if (n.what == note::kind::settled) w.octet(n.accepted ? 1 : 0);
  if (n.what == note::kind::mirror_push) w.longlong_uint(static_cast<std::uint64_t>(n.expires_at.ns));
  if (n.what == note::kind::forward || n.what == note::kind::mirror_push) write_message(w, *n.msg);
}

frame read_body(type t, wire_reader& r) {
  switch (t) {
    case type::hello: {
      const std::uint32_t node = r.long_uint();
      return hello{node, std::string(r.shortstr())};
    }
    case type::metadata: {
      metadata m{.vhost = std::string(r.shortstr()), .change = {}};
      auto f = decode_frame(r.longstr_view(), 0);
      if (!f || !*f) throw wire_error{reply_code::frame_error, "bad metadata method"};
      auto decoded = decode_method((*f)->payload);
      if (!decoded) throw decoded.error();
      m.change = std::move(*decoded);
      m.barrier = r.longlong_uint();
      return m;
    }
    case type::applied: return applied{r.longlong_uint()};
    case type::credit: return credit{r.long_uint()};
    default: break;
  }
  note n;
  n.what = t == type::forward       ? note::kind::forward
           : t == type::settled     ? note::kind::settled
           : t == type::mirror_push ? note::kind::mirror_push
           : t == type::mirror_delivered ? note::kind::mirror_delivered
           : t == type::mirror_drop ? note::kind::mirror_drop
                                    : note::kind::queue_removed;
  n.vhost = r.shortstr();
  n.queue = r.shortstr();
  n.sequence = r.longlong_uint();
  n.publish.node.value = r.long_uint();
  n.publish.channel.conn = r.long_uint();
  n.publish.channel.ch = r.short_uint();
  n.publish.sequence = r.longlong_uint();
  if (t == type::settled) n.accepted = r.octet() != 0;
  if (t == type::mirror_push) n.expires_at = broker::instant{static_cast<std::int64_t>(r.longlong_uint())};
  if (t == type::forward || t == type::mirror_push) n.msg = read_message(r);
  return n;
}

}  // namespace

void write(std::string& out, const frame& f) {
  const std::size_t at = out.size();
  out.append(4, '\0');
  out.push_back(static_cast<char>(type_of(f)));
  wire_writer w(out);
  write_body(w, f);
  store_be<std::uint32_t>(out.data() + at, static_cast<std::uint32_t>(out.size() - at - 4));
}

std::expected<std::optional<std::pair<frame, std::size_t>>, wire_error> read(std::string_view in) {
  if (in.size() < 5) return std::nullopt;
  const auto size = load_be<std::uint32_t>(in.data());
  if (size == 0 || size > max_frame) return std::unexpected(wire_error{reply_code::frame_error, fmt::format("peer frame of {} bytes", size)});
  if (in.size() < 4 + std::size_t{size}) return std::nullopt;
  const auto t = static_cast<type>(static_cast<std::uint8_t>(in[4]));
  if (t < type::hello || t > type::credit) {
    return std::unexpected(wire_error{reply_code::frame_error, fmt::format("unknown peer frame type {}", in[4])});
  }
  try {
    wire_reader r(in.substr(5, size - 1));
    frame f = read_body(t, r);
    if (r.remaining() != 0) return std::unexpected(wire_error{reply_code::frame_error, "trailing bytes in a peer frame"});
    return std::pair{std::move(f), 4 + std::size_t{size}};
  } catch (const wire_error& e) {
    return std::unexpected(e);
  }
}

}  // namespace mqlab::net::amqp::peer
