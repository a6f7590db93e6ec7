// AMQP connection: handshake, framing, channels, heartbeats and closing.
#include "net/amqp/connection.h"

#include <algorithm>

#include <fmt/format.h>

#include "net/amqp/connection_state.h"

namespace mqlab::net::amqp {

namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;
// How long a peer gets to answer our connection.close with close-ok.
constexpr std::int64_t close_timeout_ns = 3 * ns_per_s;

field_table server_properties(const server_options& o) {
  field_table caps{{"publisher_confirms", true},         {"exchange_exchange_bindings", true},
                   {"basic.nack", true},                 {"consumer_cancel_notify", true},
                   {"connection.blocked", true},         {"authentication_failure_close", true},
                   {"per_consumer_qos", true}};
  return {{"product", "mqlab"},
          {"version", "0.1.0"},
          {"platform", "C++/Boost.Asio"},
          {"cluster_name", o.node_name},
          {"copyright", "mqlab contributors"},
          {"information", "An embedded broker core served over AMQP 0-9-1"},
          {"capabilities", std::move(caps)}};
}

bool capability(const field_table& client_properties, std::string_view name) {
  const auto* caps = broker::amqp::find(client_properties, "capabilities");
  const auto* t = caps ? caps->as_table() : nullptr;
  const auto* v = t ? broker::amqp::find(*t, name) : nullptr;
  return v && std::holds_alternative<bool>(v->v) && std::get<bool>(v->v);
}

// PLAIN's response is "authzid\0user\0password" (RFC 4616); AMQPLAIN's is a field table
// without its length prefix, holding LOGIN and PASSWORD.
std::optional<user> credentials(std::string_view mechanism, std::string_view response) {
  if (mechanism == "PLAIN") {
    const auto a = response.find('\0');
    const auto b = a == std::string_view::npos ? a : response.find('\0', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    return user{std::string(response.substr(a + 1, b - a - 1)), std::string(response.substr(b + 1))};
  }
  if (mechanism == "AMQPLAIN") {
    std::string framed;
    wire_writer(framed).long_uint(static_cast<std::uint32_t>(response.size()));
    framed.append(response);
    try {
      const auto t = wire_reader(framed).table();
      const auto* login = broker::amqp::find(t, "LOGIN");
      const auto* password = broker::amqp::find(t, "PASSWORD");
      if (login && password && login->as_string() && password->as_string()) {
        return user{*login->as_string(), *password->as_string()};
      }
    } catch (const wire_error&) {
    }
  }
  return std::nullopt;
}

}  // namespace

connection::connection(broker::amqp::broker& broker, const server_options& options, bool loopback_peer,
                       broker::node_id node)
    : broker_(broker), options_(options), loopback_peer_(loopback_peer), node_(node) {}

connection::~connection() = default;

std::optional<broker::amqp::connection_id> connection::broker_id() const { return id_; }

broker::amqp::channel_ref connection::ref(std::uint16_t ch) const { return {*id_, ch}; }

connection::channel& connection::chan(std::uint16_t id) {
  if (channels_.size() <= id) channels_.resize(std::size_t{id} + 1);
  if (!channels_[id]) channels_[id] = std::make_unique<channel>();
  return *channels_[id];
}

void connection::receive(std::string_view bytes, instant now) {
  last_received_ = now;
  in_.append(bytes);
  std::size_t pos = 0;
  if (phase_ == phase::header) {
    if (in_.size() < protocol_header.size()) return;
    if (std::string_view(in_).substr(0, protocol_header.size()) != protocol_header) {
      // Spec §4.2.2: answer an unsupported protocol header with ours and close.
      out_.append(protocol_header);
      finish("unsupported protocol header");
      return;
    }
    pos = protocol_header.size();
    connection_start start;
    start.server_properties = server_properties(options_);
    start.mechanisms.value = "PLAIN AMQPLAIN";
    start.locales.value = "en_US";
    write_method(out_, 0, start);
    phase_ = phase::start_ok;
  }
  while (phase_ != phase::done) {
    const std::uint32_t limit = phase_ == phase::running || phase_ == phase::closing ? frame_max_ : frame_min_size;
    auto f = decode_frame(std::string_view(in_).substr(pos), limit);
    if (!f) {
      connection_error(f.error().code, f.error().text);
      // Nothing after a framing error can be trusted; drop it.
      pos = in_.size();
      break;
    }
    if (!*f) break;
    pos += (*f)->size();
    handle_frame(**f, now);
  }
  in_.erase(0, pos);
}

void connection::handle_frame(const frame& f, instant now) {
  if (f.type == frame_type::heartbeat) return;
  if (f.channel != 0) {
    if (phase_ == phase::running) handle_channel_frame(f, now);
    else if (phase_ != phase::closing) connection_error(reply_code::command_invalid, "channel frame before connection.open");
    return;
  }
  if (f.type != frame_type::method) {
    connection_error(reply_code::unexpected_frame, "expected method frame, got non method frame instead");
    return;
  }
  auto m = decode_method(f.payload);
  if (!m) {
    connection_error(m.error().code, m.error().text);
    return;
  }
  handle_connection_method(*m, now);
}

void connection::handle_connection_method(const method& m, instant now) {
  if (phase_ == phase::closing) {
    // After our connection.close only close and close-ok matter (spec §1.4.2.9).
    if (std::holds_alternative<connection_close>(m)) write_method(out_, 0, connection_close_ok{});
    if (std::holds_alternative<connection_close>(m) || std::holds_alternative<connection_close_ok>(m)) finish("");
    return;
  }
  const auto unexpected = [&](std::string_view expected) {
    std::visit([&](const auto& x) {
      connection_error(reply_code::command_invalid,
                       fmt::format("expected '{}', got '{}'", expected, method_name(x)));
    }, m);
  };
  switch (phase_) {
    case phase::start_ok:
      if (const auto* x = std::get_if<connection_start_ok>(&m)) return handle_start_ok(*x);
      return unexpected("connection.start_ok");
    case phase::tune_ok:
      if (const auto* x = std::get_if<connection_tune_ok>(&m)) return handle_tune_ok(*x);
      return unexpected("connection.tune_ok");
    case phase::open:
      if (const auto* x = std::get_if<connection_open>(&m)) return handle_open(*x, now);
      return unexpected("connection.open");
    default:
      break;
  }
  if (std::holds_alternative<connection_close>(m)) {
    if (id_) broker_.close_connection(*id_, now);
    id_.reset();
    write_method(out_, 0, connection_close_ok{});
    finish("");
  } else if (!std::holds_alternative<connection_blocked>(m) && !std::holds_alternative<connection_unblocked>(m)) {
    unexpected("connection.close");
  }
}

void connection::handle_start_ok(const connection_start_ok& m) {
  cancel_notify_ = capability(m.client_properties, "consumer_cancel_notify");
  blocked_notify_ = capability(m.client_properties, "connection.blocked");
  const auto who = credentials(m.mechanism, m.response.value);
  const bool known = who && std::ranges::any_of(options_.users, [&](const user& u) {
    return u.name == who->name && u.password == who->password;
  });
  // RabbitMQ's default user may only connect from the machine itself (loopback_users).
  if (!known || (who->name == "guest" && !loopback_peer_)) {
    connection_error(reply_code::access_refused,
                     fmt::format("Login was refused using authentication mechanism {}. For details "
                                 "see the broker logfile.",
                                 m.mechanism));
    // The client hears only the above; the log says who and why, as RabbitMQ's does.
    end_reason_ = !who ? fmt::format("{} login refused: malformed credentials", m.mechanism)
                  : !known ? fmt::format("{} login refused: user '{}' - invalid credentials", m.mechanism, who->name)
                           : fmt::format("{} login refused: user '{}' can only connect via localhost", m.mechanism, who->name);
    return;
  }
  user_ = who->name;
  // A cluster node relaying its client's channel says which node the client is on.
  const auto* relayed_for = broker::amqp::find(m.client_properties, cluster_node_property);
  if (relayed_for && relayed_for->as_integer() && loopback_peer_) {
    node_ = broker::node_id{static_cast<std::uint32_t>(*relayed_for->as_integer())};
  }
  write_method(out_, 0, connection_tune{.channel_max = options_.channel_max, .frame_max = options_.frame_max,
                                        .heartbeat = options_.heartbeat_s});
  phase_ = phase::tune_ok;
}

void connection::handle_tune_ok(const connection_tune_ok& m) {
  // RabbitMQ's rule: a value of 0 means "no limit", which a server with a limit refuses.
  if (m.frame_max < frame_min_size || m.frame_max > options_.frame_max) {
    connection_error(reply_code::not_allowed,
                     fmt::format("negotiated frame_max = {} is outside the allowed range [{}, {}]",
                                 m.frame_max, frame_min_size, options_.frame_max));
    return;
  }
  if (m.channel_max > options_.channel_max) {
    connection_error(reply_code::not_allowed,
                     fmt::format("negotiated channel_max = {} is higher than the maximum allowed value ({})",
                                 m.channel_max, options_.channel_max));
    return;
  }
  frame_max_ = m.frame_max;
  channel_max_ = m.channel_max == 0 ? options_.channel_max : m.channel_max;
  heartbeat_s_ = m.heartbeat;
  phase_ = phase::open;
}

void connection::handle_open(const connection_open& m, instant now) {
  // A vhost that does not exist and one the user has no permissions in are refused alike.
  access_ = access::of(options_.permissions, user_, m.virtual_host);
  auto id = access_ ? broker_.open_connection(m.virtual_host, now, node_) : std::unexpected(broker::amqp::error{});
  if (!id) {
    connection_error(reply_code::not_allowed,
                     fmt::format("access to vhost '{}' refused for user '{}'", m.virtual_host, user_));
    return;
  }
  id_ = *id;
  vhost_ = std::string(m.virtual_host);
  write_method(out_, 0, connection_open_ok{});
  phase_ = phase::running;
  if (heartbeat_s_ > 0) next_heartbeat_ = {now.ns + heartbeat_s_ * ns_per_s / 2};
  if (blocked_ && blocked_notify_) write_method(out_, 0, connection_blocked{.reason = "low on memory"});
}

void connection::handle_channel_frame(const frame& f, instant now) {
  if (f.channel > channel_max_) {
    connection_error(reply_code::channel_error,
                     fmt::format("channel {} exceeds the negotiated channel_max {}", f.channel, channel_max_));
    return;
  }
  channel& c = chan(f.channel);
  if (c.relayed) return relay_frame(f);
  // Content of a publish on a channel we are closing is dropped with it.
  if (f.type != frame_type::method && c.st == channel::state::closing) return;
  if (f.type != frame_type::method || c.pending) return handle_content(f.channel, f, now);
  auto m = decode_method(f.payload);
  if (!m) return connection_error(m.error().code, m.error().text);
  handle_channel_method(f.channel, *m, now);
}

void connection::handle_channel_method(std::uint16_t ch, method& m, instant now) {
  channel& c = chan(ch);
  if (c.st == channel::state::closing) {
    // After our channel.close only close and close-ok matter (spec §1.5.2.5).
    if (std::holds_alternative<channel_close>(m)) write_method(out_, ch, channel_close_ok{});
    if (std::holds_alternative<channel_close>(m) || std::holds_alternative<channel_close_ok>(m)) {
      c.st = channel::state::closed;
    }
    return;
  }
  if (std::holds_alternative<channel_open>(m)) {
    if (c.st == channel::state::open) return connection_error(reply_code::channel_error, "second 'channel.open' seen", 20, 10);
    if (auto r = broker_.channel_open(ref(ch)); !r) return fail(ch, r.error());
    c.st = channel::state::open;
    write_method(out_, ch, channel_open_ok{});
    return;
  }
  if (c.st == channel::state::closed) {
    return connection_error(reply_code::channel_error, "expected 'channel.open'");
  }
  if (std::holds_alternative<channel_close>(m)) {
    broker_.channel_close(ref(ch), now);
    c = channel{};
    write_method(out_, ch, channel_close_ok{});
  } else if (const auto* flow = std::get_if<channel_flow>(&m)) {
    // RabbitMQ 3.x dropped consumer-side flow control: only active=true is accepted.
    if (!flow->active) return connection_error(reply_code::not_implemented, "active=false", 20, 20);
    write_method(out_, ch, channel_flow_ok{.active = true});
  } else if (std::holds_alternative<channel_close_ok>(m) || std::holds_alternative<channel_flow_ok>(m)) {
    // Nothing to do: we never send channel.flow, and close-ok is handled above.
  } else if (auto refused = access_->refusal(m, user_, vhost_, c.last_queue)) {
    // RabbitMQ's 403 closes the channel; the core's channel goes with it.
    broker_.channel_close(ref(ch), now);
    const auto at = std::visit([](const auto& x) {
      using M = std::decay_t<decltype(x)>;
      return broker::amqp::method_ref{M::class_id, M::method_id_v};
    }, m);
    fail(ch, {reply_code::access_refused, fmt::format("ACCESS_REFUSED - {}", *refused), at});
  } else if (!link_ || !hand_over(ch, m, now)) {
    dispatch(ch, m, now);
  }
}

void connection::handle_content(std::uint16_t ch, const frame& f, instant now) {
  channel& c = chan(ch);
  if (!c.pending) {
    return connection_error(reply_code::unexpected_frame, "expected method frame, got non method frame instead");
  }
  content& p = *c.pending;
  if (!p.have_header) {
    if (f.type != frame_type::header) {
      return connection_error(reply_code::unexpected_frame,
                              "expected content header for class 60, got non content header frame instead");
    }
    auto h = decode_content_header(f.payload);
    if (!h) return connection_error(h.error().code, h.error().text);
    if (h->class_id != 60) return connection_error(reply_code::frame_error, fmt::format("content header for class {}", h->class_id));
    if (h->body_size > options_.max_message_size) {
      // RabbitMQ's words; the body frames that follow are dropped with the closing channel.
      broker_.channel_close(ref(ch), now);  // the core's side of the channel closes with ours
      return fail(ch, {reply_code::precondition_failed,
                       fmt::format("PRECONDITION_FAILED - message size {} is larger than configured max size {}", h->body_size,
                                   options_.max_message_size),
                       {60, 40}});
    }
    p.have_header = true;
    p.body_size = h->body_size;
    constexpr std::size_t properties_at = 12;  // after class id, weight and body size
    const std::string_view property_bytes = f.payload.substr(properties_at);
    if (!last_properties_ || property_bytes != last_property_bytes_) {
      last_properties_ = std::make_shared<const basic_properties>(std::move(h->properties));
      last_property_bytes_.assign(property_bytes);
    }
    p.properties = last_properties_;
    p.body.reserve(p.body_size);
  } else if (f.type != frame_type::body) {
    return connection_error(reply_code::unexpected_frame, "expected content body, got non content body frame instead");
  } else if (p.body.size() + f.payload.size() > p.body_size) {
    return connection_error(reply_code::frame_error, "content body larger than announced in its header");
  } else {
    p.body.append(f.payload);
  }
  if (p.body.size() == p.body_size) publish(ch, p, now);
}

void connection::fail(std::uint16_t ch, const broker::amqp::error& e) {
  if (e.connection_level()) {
    id_.reset();  // the core has already closed it
    close_with(e.code, e.text, e.method.class_id, e.method.method_id);
    return;
  }
  chan(ch) = channel{.st = channel::state::closing};
  write_method(out_, ch, channel_close{.reply_code = static_cast<std::uint16_t>(e.code), .reply_text = e.text,
                                       .class_id_ = e.method.class_id, .method_id_ = e.method.method_id});
}

void connection::connection_error(reply_code code, std::string_view detail, std::uint16_t class_id,
                                   std::uint16_t method_id) {
  close_with(code, fmt::format("{} - {}", broker::amqp::reply_name(code), detail), class_id, method_id);
}

void connection::close_with(reply_code code, std::string_view text, std::uint16_t class_id, std::uint16_t method_id) {
  if (phase_ == phase::closing || phase_ == phase::done) return;
  if (id_) {
    // The core keeps no half-closed connections: unacked deliveries go back now.
    broker_.close_connection(*id_, last_received_);
    id_.reset();
  }
  write_method(out_, 0, connection_close{.reply_code = static_cast<std::uint16_t>(code), .reply_text = text,
                                         .class_id_ = class_id, .method_id_ = method_id});
  end_reason_ = std::string(text);
  phase_ = phase::closing;
  close_deadline_ = {last_received_.ns + close_timeout_ns};
}

void connection::finish(std::string reason) {
  if (!reason.empty()) end_reason_ = std::move(reason);
  phase_ = phase::done;
}

void connection::accepted(instant now) {
  handshake_deadline_ = {now.ns + static_cast<std::int64_t>(options_.handshake_timeout_s) * ns_per_s};
}

instant connection::next_tick() const {
  if (phase_ == phase::closing) return close_deadline_;
  if (phase_ < phase::running) return handshake_deadline_;
  if (heartbeat_s_ == 0 || phase_ != phase::running) return instant::never();
  return std::min(next_heartbeat_, instant{last_received_.ns + 2 * heartbeat_s_ * ns_per_s});
}

void connection::tick(instant now) {
  if (phase_ == phase::closing && now >= close_deadline_) return finish(end_reason_ + " (no close-ok)");
  if (phase_ < phase::running && now >= handshake_deadline_) {
    // A client that connects and never finishes the handshake holds a socket for nothing.
    return finish(fmt::format("handshake not finished within {}s (handshake_timeout)", options_.handshake_timeout_s));
  }
  if (heartbeat_s_ == 0 || phase_ != phase::running) return;
  // Spec §4.2.7: a peer silent for two heartbeat intervals is gone.
  if (now.ns - last_received_.ns >= 2 * heartbeat_s_ * ns_per_s) {
    peer_gone(now);
    return finish(fmt::format("missed heartbeats from client, timeout: {}s", heartbeat_s_));
  }
  if (now >= next_heartbeat_) {
    write_heartbeat(out_);
    next_heartbeat_ = {now.ns + heartbeat_s_ * ns_per_s / 2};
  }
}

void connection::peer_gone(instant now) {
  if (id_) broker_.close_connection(*id_, now);
  id_.reset();
  phase_ = phase::done;
}

void connection::shutdown() {
  if (phase_ == phase::running) {
    close_with(reply_code::connection_forced, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", 0, 0);
  } else if (phase_ != phase::closing) {
    finish("server shutdown");
  }
}

void connection::set_blocked(bool blocked) {
  if (blocked == blocked_) return;
  blocked_ = blocked;
  if (!blocked_notify_ || phase_ != phase::running) return;
  if (blocked) write_method(out_, 0, connection_blocked{.reason = "low on memory"});
  else write_method(out_, 0, connection_unblocked{});
}

bool connection::paused() const { return blocked_ && published_; }

}  // namespace mqlab::net::amqp
