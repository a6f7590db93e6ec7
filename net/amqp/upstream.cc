// A relaying AMQP connection: the login written up front (the server reads it in order), then a
// pipe with one write in flight, and a frame splitter on the way back that keeps channel 0 (the
// upstream connection's own business) and the replayed set-up's replies from the client.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "net/amqp/upstream.h"

#include <map>

#include <boost/asio.hpp>

#include "net/amqp/codec.h"
#include "net/amqp/connection.h"
#include "net/tcp.h"

namespace mqlab::net::amqp {

namespace asio = boost::asio;
using asio::ip::tcp;

struct upstream::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, upstream_handlers h) : socket(io), handlers(std::move(h)) {}

  tcp::socket socket;
  upstream_handlers handlers;
  outbox out;
  std::string pending, in;
  std::map<std::uint16_t, std::uint32_t> swallow;  // replies still to drop, by channel
  bool connected = false, over = false, finishing = false;

  void flush() {
    if (!connected || over) return;
    if (pending.empty() && !out.busy() && finishing) return end();
    out.send(socket, pending, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->fail();
      self->flush();
    });
  }

  void end() {
    over = true;
    close_socket(socket);
  }

  void read() {
    auto buffer = std::make_shared<std::array<char, 64 * 1024>>();
    socket.async_read_some(asio::buffer(*buffer), [self = shared_from_this(), buffer](boost::system::error_code ec,
                                                                                      std::size_t n) {
      if (self->over || self->finishing) return;
      if (ec) return self->fail();
      self->in.append(buffer->data(), n);
      if (self->split()) self->read();
    });
  }

  /// Hands complete frames to the client; false if the other node closed the connection.
  bool split() {
    std::string forward;
    std::size_t pos = 0;
    while (true) {
      auto f = decode_frame(std::string_view(in).substr(pos), 0);
      if (!f) {
        fail();
        return false;
      }
      if (!*f) break;
      const frame& fr = **f;
      pos += fr.size();
      if (fr.channel == 0) {
        // connection.close: the other node is shutting down.
        if (is_method<connection_close>(fr)) {
          fail();
          return false;
        }
        continue;
      }
      if (fr.type == frame_type::method) {
        auto it = swallow.find(fr.channel);
        if (it != swallow.end() && it->second > 0) {
          --it->second;
          continue;
        }
      }
      write_frame(forward, fr);
    }
    in.erase(0, pos);
    if (!forward.empty()) handlers.frames(forward);
    return !over;
  }

  void fail() {
    if (over) return;
    end();
    if (!finishing && handlers.lost) handlers.lost();
  }
};

upstream::upstream(asio::io_context& io, upstream_handlers handlers)
    : impl_(std::make_shared<impl>(io, std::move(handlers))) {}

upstream::~upstream() {
  if (!impl_->finishing) close();
}

void upstream::open(std::uint16_t port, const upstream_login& login) {
  auto& s = *impl_;
  s.pending.append(protocol_header);
  connection_start_ok start;
  start.client_properties = {
      {std::string(cluster_node_property), static_cast<std::int64_t>(login.client_node.value)},
      {"capabilities", field_table{{"consumer_cancel_notify", true}, {"connection.blocked", true}}}};
  start.mechanism = "PLAIN";
  const std::string response = std::string(1, '\0') + login.user + '\0' + login.password;
  start.response.value = response;
  start.locale = "en_US";
  write_method(s.pending, 0, start);
  write_method(s.pending, 0, connection_tune_ok{.channel_max = 0, .frame_max = login.frame_max, .heartbeat = 0});
  write_method(s.pending, 0, connection_open{.virtual_host = login.vhost});
  boost::system::error_code bad_address;
  const tcp::endpoint to(asio::ip::make_address(login.host, bad_address), port);
  if (bad_address) {
    asio::post(s.socket.get_executor(), [self = impl_] { self->fail(); });
    return;
  }
  s.socket.async_connect(to, [self = impl_](boost::system::error_code ec) {
    if (self->over) return;
    if (ec) return self->fail();
    boost::system::error_code ignored;
    self->socket.set_option(tcp::no_delay(true), ignored);
    self->connected = true;
    self->flush();
    self->read();
  });
}

void upstream::send(std::uint16_t channel, std::string_view frames, std::uint32_t replies) {
  if (replies > 0) impl_->swallow[channel] += replies;
  impl_->pending.append(frames);
  impl_->flush();
}

void upstream::close() {
  if (!impl_->over) impl_->end();
}

void upstream::finish() {
  auto& s = *impl_;
  if (s.over || s.finishing) return;
  s.finishing = true;
  write_method(s.pending, 0, connection_close{.reply_code = 200, .reply_text = "Goodbye"});
  s.flush();
}

}  // namespace mqlab::net::amqp
