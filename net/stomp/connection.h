// One STOMP client connection as the broker sees it, mapped onto the JMS core the way
// ActiveMQ 5's STOMP connector maps it: CONNECT with version and heart-beat negotiation and a
// login, SEND with JMS headers and custom properties, SUBSCRIBE with ack modes, selectors,
// prefetch, durable subscriptions and browsers, ACK / NACK by version, BEGIN / COMMIT / ABORT,
// receipts, and ERROR frames carrying ActiveMQ's messages, fatal where ActiveMQ closes the
// connection. It owns no socket: the transport feeds it bytes and the time and sends output().
#pragma once

#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/stomp/frame.h"
#include "net/stomp/service.h"

namespace mqlab::net::stomp {

/// A JMS destination as STOMP names it: /queue/X or /topic/X.
std::string stomp_name(const broker::jms::destination& d);

class connection {
 public:
  /// `loopback`: the peer is on this machine (the guest user may log in).
  connection(service& s, bool loopback, broker::instant accepted);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Handles every complete frame in `bytes` (plus what was left over before).
  void receive(std::string_view bytes, broker::instant now);
  /// A message the core delivered to one of this connection's subscriptions (from the service).
  void deliver(const broker::jms::delivery& d);
  /// Heart-beats and the connect timeout: writes a heart-beat when the server owes one, ends
  /// the connection when the client is late. Returns when to call again.
  broker::instant tick(broker::instant now);
  /// The transport takes output() for a write / that write completed: messages of `auto`
  /// subscriptions are acknowledged once written, so a slow reader is not sent more than its
  /// prefetch (ActiveMQ acknowledges on dispatch and leans on TCP instead).
  void output_taken(broker::instant now);
  void output_written(broker::instant now);
  /// The socket is gone: the core takes back what this connection held.
  void closed(broker::instant now);

  std::string& output() { return out_; }
  /// The connection must close once output() is sent.
  bool done() const { return done_; }
  const std::string& end_reason() const { return end_reason_; }
  version negotiated() const { return version_; }

 private:
  struct outstanding {
    std::string ack_id, message_id;
    std::uint64_t delivery_id = 0;
  };
  struct subscription {
    std::string id, destination;  // the STOMP destination, as the client named it
    broker::jms::consumer_id consumer = 0;
    broker::jms::session_id session = 0;
    broker::jms::ack_mode mode = broker::jms::ack_mode::auto_acknowledge;
    std::deque<outstanding> unacked;  // client modes, in delivery order
  };
  struct settlement {
    std::string subscription;
    outstanding what;
    bool poison = false;
  };
  struct transaction {
    std::optional<broker::jms::session_id> sends;  // a transacted session, opened by the first SEND
    std::vector<settlement> settlements;          // ACKs and NACKs applied at COMMIT
    std::size_t bytes = 0;
  };
  /// A frame the client got wrong: ERROR with ActiveMQ's message; `fatal` closes the connection.
  struct refusal {
    std::string message;
    bool fatal = false;
  };
  using outcome = std::optional<refusal>;

  void handle(frame f, broker::instant now);
  outcome on_connect(const frame& f, broker::instant now);
  outcome on_send(const frame& f, broker::instant now);
  outcome on_subscribe(const frame& f, broker::instant now);
  outcome on_unsubscribe(const frame& f, broker::instant now);
  outcome on_settle(const frame& f, bool ack, broker::instant now);
  outcome on_begin(const frame& f);
  /// The open transaction a frame's `transaction` header names; nullptr without the header.
  std::expected<transaction*, refusal> transaction_of(const frame& f);
  outcome on_end_transaction(const frame& f, bool commit, broker::instant now);
  frame message_frame(const broker::jms::message& m, bool redelivered, const subscription& sub) const;
  void browse(const subscription& sub, std::string_view queue, broker::instant now);
  /// Takes the entries an ACK or NACK of `message_id` settles from the subscription (all up to
  /// it in client mode, just it otherwise); empty when the message is not outstanding there.
  std::vector<outstanding> take_settled(subscription& sub, std::string_view message_id, bool ack);
  void settle(const subscription& sub, const outstanding& o, bool poison, broker::instant now);
  void close_subscription(std::map<std::string, subscription>::iterator it, broker::instant now);
  void write(const frame& f);
  void error(const refusal& r, const frame* cause);
  void finish(std::string reason);

  service& service_;
  bool loopback_;
  decoder in_;
  std::string out_;
  version version_ = version::v1_0;
  bool done_ = false;
  std::string end_reason_;
  std::optional<broker::jms::connection_id> conn_;
  broker::jms::session_id producer_ = 0;
  std::map<std::string, subscription> subscriptions_;              // by STOMP id
  std::map<broker::jms::consumer_id, std::string> by_consumer_;    // consumer -> STOMP id
  std::map<std::string, std::string> ack_ids_;                     // 1.2 ack id -> STOMP id
  std::map<std::string, transaction> transactions_;
  std::vector<std::pair<broker::jms::session_id, std::uint64_t>> auto_unwritten_, auto_writing_;
  std::int64_t accepted_ns_ = 0, last_received_ns_ = 0, last_sent_ns_ = 0;
  std::int64_t send_every_ms_ = 0, expect_every_ms_ = 0;  // negotiated heart-beats; 0 = none
  std::uint64_t anonymous_subscriptions_ = 0;             // STOMP 1.0 subscriptions without an id
};

}  // namespace mqlab::net::stomp
