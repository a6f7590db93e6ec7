// An AMQP 0-9-1 client over Boost.Asio, for net mode's producers and consumers: it logs in
// (PLAIN), opens channels, declares exchanges, queues and bindings, publishes (with confirms if asked), consumes and
// acknowledges, and reports what the server sends back (deliveries, returns, confirms,
// basic.cancel, closes) through callbacks run on the io_context's thread. Commands are
// pipelined: they are written in order without waiting for their -ok replies, and those issued
// before connection.open-ok leave right after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "broker/amqp/message.h"
#include "net/amqp/wire.h"

namespace boost::asio {
class io_context;
}

namespace mqlab::net::amqp {

/// A message the server delivered (basic.deliver or basic.get-ok) or returned unroutable (basic.return).
struct client_message {
  std::uint16_t channel = 0;
  std::uint64_t delivery_tag = 0;  // 0 for a returned message
  bool redelivered = false;
  std::string body;
};

struct client_handlers {
  std::function<void(client_message)> delivered;
  std::function<void(client_message)> returned;
  /// basic.get-empty: the queue had nothing for a get().
  std::function<void(std::uint16_t channel)> empty;
  /// The server cancelled the channel's consumer (its queue was deleted or its node went down).
  std::function<void(std::uint16_t channel)> cancelled;
  /// A publisher confirm on a channel in confirm mode: basic.ack (`ack`) or basic.nack of
  /// `delivery_tag`, and with `multiple` of every earlier one too.
  std::function<void(std::uint16_t channel, std::uint64_t delivery_tag, bool multiple, bool ack)> confirmed;
  /// The server closed a channel (a soft error); the reply text says why.
  std::function<void(std::uint16_t channel, std::string_view reply_text)> channel_closed;
  /// queue.declare-ok: the queue's name, its ready messages and consumers (inspect_queue's answer).
  std::function<void(std::uint16_t channel, std::string_view queue, std::uint32_t messages, std::uint32_t consumers)> declared;
  /// queue.delete-ok: how many messages went with the queue.
  std::function<void(std::uint16_t channel, std::uint32_t messages)> deleted;
  /// The connection is over: refused, closed by the server, or the socket failed.
  std::function<void(std::string_view reason)> closed;
};

/// Who connects where: by default guest on loopback, as net mode's clients do.
struct client_login {
  std::string host = "127.0.0.1";  // an address, not a name: nothing here resolves
  std::string user = "guest", password = "guest";
  std::string vhost = "/";
};

class client {
 public:
  /// `io` must outlive the client; callbacks run on it.
  client(boost::asio::io_context& io, client_handlers handlers);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Connects to `who.host`:`port`, logs in (PLAIN) and opens the vhost; commands may follow at
  /// once. A refused login ends the connection with the server's reason (403 ACCESS_REFUSED).
  void connect(std::uint16_t port, client_login who = {});
  /// True from the moment connect() was called until the connection is over.
  bool alive() const;

  void open_channel(std::uint16_t channel);
  void declare_queue(std::uint16_t channel, std::string_view name, bool durable, const field_table& arguments);
  /// queue.declare passive: answered by `declared` with the queue's counts, or a 404 channel close.
  void inspect_queue(std::uint16_t channel, std::string_view name);
  void delete_queue(std::uint16_t channel, std::string_view name);
  void declare_exchange(std::uint16_t channel, std::string_view name, std::string_view type);
  void delete_exchange(std::uint16_t channel, std::string_view name);
  void bind_queue(std::uint16_t channel, std::string_view queue, std::string_view exchange, std::string_view routing_key,
                  const field_table& arguments);
  void qos(std::uint16_t channel, std::uint16_t prefetch_count);
  /// confirm.select: the server confirms the channel's publishes from now on, numbered from 1.
  void select_confirms(std::uint16_t channel);
  void consume(std::uint16_t channel, std::string_view queue, bool no_ack);
  /// basic.get: one message, answered as a delivery (`delivered`) or `empty`.
  void get(std::uint16_t channel, std::string_view queue, bool no_ack);
  /// `written` (if given) is called once the publish's frames are written to the socket, or the
  /// connection is over: where a client library's publish call returns.
  void publish(std::uint16_t channel, std::string_view exchange, std::string_view routing_key, bool mandatory,
               const broker::amqp::basic_properties& properties, std::string_view body,
               std::function<void()> written = {});
  /// basic.ack; `multiple` settles every unacknowledged delivery up to `delivery_tag` on the channel.
  void ack(std::uint16_t channel, std::uint64_t delivery_tag, bool multiple = false);
  void reject(std::uint16_t channel, std::uint64_t delivery_tag, bool requeue);

  /// Drops the socket without connection.close, as a crashing process does.
  void abort();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace mqlab::net::amqp
