// The STOMP side of one JMS core, shared by every STOMP connection: the server's options, which
// connection owns each consumer, and the core's deliveries handed to those connections. No
// sockets: the transport (or a test) attaches connections and asks which ones have output.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/jms/broker.h"
#include "net/amqp/connection.h"
#include "net/stomp/frame.h"

namespace mqlab::net::stomp {

class connection;

struct service_options {
  /// Who may log in: the broker's users, as for AMQP. A CONNECT without a login is the guest
  /// user, allowed from loopback only.
  std::vector<amqp::user> users{{"guest", "guest"}};
  frame_limits limits;
  /// The CONNECTED frame's server header.
  std::string server = "mqlab/1.0";
  /// ActiveMQ's connectionAttemptTimeout: a connection that has not sent CONNECT by then closes.
  std::int64_t connect_timeout_ms = 30'000;
  /// ActiveMQ's hbGracePeriodMultiplier: a client is late once silent this many of its heart-beat intervals.
  double heartbeat_grace = 1.5;
  /// What one connection may hold open (none of these is limited in ActiveMQ, whose memory is).
  std::size_t max_subscriptions = 1000;
  std::size_t max_transactions = 100;
  /// Bytes of messages one open transaction may hold until COMMIT.
  std::size_t max_transaction_bytes = 64u << 20;
  /// The broker's memory alarm (none: never full). While it is raised SEND is refused, as
  /// ActiveMQ refuses it with sendFailIfNoSpace; consumers go on draining.
  std::function<bool()> memory_full;
};

class service {
 public:
  /// `core` must outlive the service.
  explicit service(broker::jms::broker& core, service_options options = {}) : core_(core), options_(std::move(options)) {}
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  broker::jms::broker& core() { return core_; }
  const service_options& options() const { return options_; }

  /// Deliveries to `consumer` go to `c` until disown().
  void own(broker::jms::consumer_id consumer, connection& c) { owners_[consumer] = &c; }
  void disown(broker::jms::consumer_id consumer) { owners_.erase(consumer); }
  /// Hands what the core delivered to the connections owning the consumers, until the core has
  /// nothing more (an automatic acknowledgement may free room for another delivery).
  void route();
  /// The core's next timer (expiry, delayed redelivery) is due: runs it and routes.
  void advance(broker::instant now);
  /// Connections given output since the last call (by route() or their own frames).
  std::set<connection*> take_touched() { return std::exchange(touched_, {}); }
  void touched(connection& c) { touched_.insert(&c); }
  void forget(connection& c) { touched_.erase(&c); }
  /// A fresh STOMP 1.2 ack id, unique in this server.
  std::string next_ack_id() { return std::to_string(next_ack_++); }

 private:
  broker::jms::broker& core_;
  service_options options_;
  std::map<broker::jms::consumer_id, connection*> owners_;
  std::set<connection*> touched_;
  std::uint64_t next_ack_ = 1;
};

}  // namespace mqlab::net::stomp
