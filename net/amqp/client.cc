// The client's protocol state and transport: the handshake, content assembly for deliveries and
// returns, and one write in flight with everything produced meanwhile queued behind it.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "net/amqp/client.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "net/amqp/codec.h"
#include "net/tcp.h"

namespace mqlab::net::amqp {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::uint64_t largest_message = std::uint64_t{512} << 20;  // RabbitMQ's max_message_size ceiling
}

struct client::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, client_handlers h) : socket(io), handlers(std::move(h)) {}

  enum class phase { idle, handshake, running, over };
  tcp::socket socket;
  client_handlers handlers;
  phase state = phase::idle;
  client_login who;
  std::uint32_t frame_max = 131072;
  std::string in, out, held;  // held: commands written before connection.open-ok
  // Told when their publish has left: waiting in `held`, in `out`, or in the write in flight.
  std::vector<std::function<void()>> held_written, unsent, sending;
  std::vector<char> chunk = std::vector<char>(read_chunk);
  outbox writer;
  // A delivery or return whose header and body frames are still coming.
  std::optional<client_message> content;
  bool content_is_return = false;
  std::uint64_t content_left = 0;
  bool header_seen = false;

  std::string& commands() { return state == phase::running ? out : held; }

  template <typename M>
  void command(std::uint16_t channel, const M& m) {
    write_method(commands(), channel, m);
    flush();
  }

  void start_reading() {
    socket.async_read_some(asio::buffer(chunk), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (self->state == phase::over) return;
      if (ec) return self->end(fmt::format("socket: {}", ec.message()));
      self->in.append(self->chunk.data(), n);
      self->consume_input();
      if (self->state != phase::over) self->start_reading();
    });
  }

  void consume_input() {
    std::size_t used = 0;
    while (state != phase::over) {
      auto f = decode_frame(std::string_view(in).substr(used), 0);
      if (!f) return end(fmt::format("bad frame from the server: {}", f.error().text));
      if (!*f) break;
      used += (*f)->size();
      handle(**f);
    }
    in.erase(0, used);
    flush();
  }

  void handle(const frame& f) {
    if (f.type == frame_type::heartbeat) return;
    if (f.type != frame_type::method) return handle_content(f);
    auto m = decode_method(f.payload);
    if (!m) return end(fmt::format("bad method from the server: {}", m.error().text));
    std::visit([&](auto& x) { on_method(f.channel, x); }, *m);
  }

  void on_method(std::uint16_t, const connection_start&) {
    field_table capabilities{{"consumer_cancel_notify", true}, {"publisher_confirms", true}};
    field_table properties{{"product", "mqlab net mode"}, {"capabilities", capabilities}};
    const std::string response = std::string(1, '\0') + who.user + std::string(1, '\0') + who.password;
    write_method(out, 0, connection_start_ok{.client_properties = properties, .mechanism = "PLAIN",
                                             .response = {response}, .locale = "en_US"});
  }
  void on_method(std::uint16_t, const connection_tune& t) {
    frame_max = t.frame_max == 0 ? frame_max : std::min(frame_max, t.frame_max);
    write_method(out, 0, connection_tune_ok{{}, t.channel_max, frame_max, 0});
    write_method(out, 0, connection_open{.virtual_host = who.vhost});
  }
  void on_method(std::uint16_t, const connection_open_ok&) {
    state = phase::running;
    out.append(held);
    held.clear();
    std::ranges::move(held_written, std::back_inserter(unsent));
    held_written.clear();
  }
  void on_method(std::uint16_t, const connection_close& c) {
    write_method(out, 0, connection_close_ok{});
    flush();
    end(fmt::format("closed by the server: {} {}", c.reply_code, c.reply_text));
  }
  void on_method(std::uint16_t channel, const channel_close& c) {
    write_method(out, channel, channel_close_ok{});
    if (handlers.channel_closed) handlers.channel_closed(channel, c.reply_text);
  }
  void on_method(std::uint16_t channel, const basic_cancel& c) {
    if (!c.no_wait) write_method(out, channel, basic_cancel_ok{.consumer_tag = c.consumer_tag});
    if (handlers.cancelled) handlers.cancelled(channel);
  }
  void on_method(std::uint16_t channel, const basic_deliver& d) {
    begin_content({channel, d.delivery_tag, d.redelivered, {}}, false);
  }
  void on_method(std::uint16_t channel, const basic_return&) { begin_content({channel, 0, false, {}}, true); }
  void on_method(std::uint16_t channel, const basic_get_ok& g) {
    begin_content({channel, g.delivery_tag, g.redelivered, {}}, false);
  }
  void on_method(std::uint16_t channel, const basic_get_empty&) {
    if (handlers.empty) handlers.empty(channel);
  }
  void on_method(std::uint16_t channel, const queue_declare_ok& d) {
    if (handlers.declared) handlers.declared(channel, d.queue, d.message_count, d.consumer_count);
  }
  void on_method(std::uint16_t channel, const queue_delete_ok& d) {
    if (handlers.deleted) handlers.deleted(channel, d.message_count);
  }
  void on_method(std::uint16_t channel, const basic_ack& a) {
    if (handlers.confirmed) handlers.confirmed(channel, a.delivery_tag, a.multiple, true);
  }
  void on_method(std::uint16_t channel, const basic_nack& n) {
    if (handlers.confirmed) handlers.confirmed(channel, n.delivery_tag, n.multiple, false);
  }
  // The -ok replies confirm what was pipelined; nothing waits for them.
  template <typename M>
  void on_method(std::uint16_t, const M&) {}

  void begin_content(client_message m, bool is_return) {
    content = std::move(m);
    content_is_return = is_return;
    header_seen = false;
    content_left = 0;
  }

  void handle_content(const frame& f) {
    if (!content) return end("content frame without a delivery");
    if (f.type == frame_type::header) {
      auto h = decode_content_header(f.payload);
      if (!h) return end(fmt::format("bad content header: {}", h.error().text));
      // No broker sends more than RabbitMQ's largest max_message_size: a header that says so is a
      // broken or hostile peer, not a reason to allocate.
      if (h->body_size > largest_message) return end(fmt::format("content header announces {} bytes", h->body_size));
      header_seen = true;
      content_left = h->body_size;
      content->body.reserve(h->body_size);
    } else {
      content->body.append(f.payload);
      content_left -= std::min<std::uint64_t>(content_left, f.payload.size());
    }
    if (!header_seen || content_left > 0) return;
    client_message m = std::move(*content);
    content.reset();
    auto& to = content_is_return ? handlers.returned : handlers.delivered;
    if (to) to(std::move(m));
  }

  void flush() {
    if (state == phase::over) return;
    const bool started = writer.send(socket, out, [self = shared_from_this()](boost::system::error_code ec) {
      if (self->state == phase::over) return;
      if (ec) return self->end(fmt::format("socket: {}", ec.message()));
      for (auto& written : std::exchange(self->sending, {})) written();
      self->flush();
    });
    if (started) sending = std::exchange(unsent, {});
  }

  void end(std::string reason) {
    if (state == phase::over) return;
    state = phase::over;
    close_socket(socket);
    // Their publish calls are over too: what was not written is gone with the connection.
    for (auto* waiting : {&held_written, &sending, &unsent}) {
      for (auto& written : std::exchange(*waiting, {})) written();
    }
    if (handlers.closed) handlers.closed(reason);
  }
};

client::client(asio::io_context& io, client_handlers handlers) : impl_(std::make_shared<impl>(io, std::move(handlers))) {}

client::~client() {
  // Callbacks still queued on the io_context must not reach the owner.
  impl_->handlers = {};
  impl_->held_written.clear();
  impl_->unsent.clear();
  impl_->sending.clear();
  abort();
}

void client::connect(std::uint16_t port, client_login who) {
  auto& s = *impl_;
  s.state = impl::phase::handshake;
  boost::system::error_code bad;
  const auto address = asio::ip::make_address(who.host, bad);
  s.who = std::move(who);
  if (bad) {
    asio::post(s.socket.get_executor(), [self = impl_, host = s.who.host] { self->end(fmt::format("{}: not an IP address", host)); });
    return;
  }
  const tcp::endpoint to(address, port);
  s.socket.async_connect(to, [self = impl_](boost::system::error_code ec) {
    if (self->state == impl::phase::over) return;
    if (ec) return self->end(fmt::format("connect: {}", ec.message()));
    boost::system::error_code ignored;
    self->socket.set_option(tcp::no_delay(true), ignored);
    self->out.append(protocol_header);
    self->flush();
    self->start_reading();
  });
}

bool client::alive() const { return impl_->state == impl::phase::handshake || impl_->state == impl::phase::running; }

void client::open_channel(std::uint16_t channel) { impl_->command(channel, channel_open{}); }

void client::declare_queue(std::uint16_t channel, std::string_view name, bool durable, const field_table& arguments) {
  impl_->command(channel, queue_declare{.queue = name, .durable = durable, .arguments = arguments});
}

void client::inspect_queue(std::uint16_t channel, std::string_view name) {
  impl_->command(channel, queue_declare{.queue = name, .passive = true});
}

void client::delete_queue(std::uint16_t channel, std::string_view name) {
  impl_->command(channel, queue_delete{.queue = name});
}

void client::declare_exchange(std::uint16_t channel, std::string_view name, std::string_view type) {
  impl_->command(channel, exchange_declare{.exchange = name, .type = type});
}

void client::delete_exchange(std::uint16_t channel, std::string_view name) {
  impl_->command(channel, exchange_delete{.exchange = name});
}

void client::bind_queue(std::uint16_t channel, std::string_view queue, std::string_view exchange,
                        std::string_view routing_key, const field_table& arguments) {
  impl_->command(channel, queue_bind{.queue = queue, .exchange = exchange, .routing_key = routing_key, .arguments = arguments});
}

void client::qos(std::uint16_t channel, std::uint16_t prefetch_count) {
  impl_->command(channel, basic_qos{.prefetch_count = prefetch_count});
}

void client::get(std::uint16_t channel, std::string_view queue, bool no_ack) {
  impl_->command(channel, basic_get{.queue = queue, .no_ack = no_ack});
}

void client::select_confirms(std::uint16_t channel) { impl_->command(channel, confirm_select{}); }

void client::consume(std::uint16_t channel, std::string_view queue, bool no_ack) {
  impl_->command(channel, basic_consume{.queue = queue, .no_ack = no_ack});
}

void client::publish(std::uint16_t channel, std::string_view exchange, std::string_view routing_key, bool mandatory,
                     const broker::amqp::basic_properties& properties, std::string_view body,
                     std::function<void()> written) {
  auto& s = *impl_;
  write_method(s.commands(), channel, basic_publish{.exchange = exchange, .routing_key = routing_key, .mandatory = mandatory});
  write_content(s.commands(), channel, properties, body, s.frame_max);
  if (written) (s.state == impl::phase::running ? s.unsent : s.held_written).push_back(std::move(written));
  s.flush();
}

void client::ack(std::uint16_t channel, std::uint64_t delivery_tag, bool multiple) {
  impl_->command(channel, basic_ack{.delivery_tag = delivery_tag, .multiple = multiple});
}

void client::reject(std::uint16_t channel, std::uint64_t delivery_tag, bool requeue) {
  impl_->command(channel, basic_reject{.delivery_tag = delivery_tag, .requeue = requeue});
}

void client::abort() {
  auto& s = *impl_;
  if (s.state == impl::phase::over) return;
  s.state = impl::phase::over;
  close_socket(s.socket);
}

}  // namespace mqlab::net::amqp
