// One Kafka client connection as a broker sees it: size-prefixed requests in, responses out
// in request order even when some wait (a JoinGroup barrier, a long-poll Fetch), ApiVersions
// probes above the served range answered as Kafka does, and any malformed or unsupported
// request ending the connection with a reason for the log. It owns no socket: the transport
// feeds it bytes and `now`, slots completions in and sends what it leaves in output().
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "net/kafka/service.h"

namespace mqlab::net::kafka {

class connection {
 public:
  /// `id` names this connection in the service's completions; `node` is the broker reached.
  connection(service& s, std::uint64_t id, std::int32_t node) : service_(s), id_(id), node_(node) {}

  /// The transport accepted the socket at `now_ms`: idleness counts from here.
  void accepted(std::int64_t now_ms) { last_received_ms_ = now_ms; }
  /// Handles every complete request in `bytes` (plus what was left over before).
  void receive(std::string_view bytes, std::int64_t now_ms);
  /// Kafka's connections.max.idle.ms: a connection that has sent nothing for `max_idle_ms`
  /// and waits for no reply (a request stalled half-way included) is done.
  void expire_if_idle(std::int64_t now_ms, std::int64_t max_idle_ms);
  /// A deferred reply is ready (from service::take_completions()).
  void complete(std::uint64_t slot, std::string body);

  std::string& output() { return out_; }
  /// The connection must close once output() is sent.
  bool done() const { return done_; }
  const std::string& end_reason() const { return end_reason_; }
  std::uint64_t id() const { return id_; }
  std::int32_t node() const { return node_; }
  std::size_t waiting() const { return replies_.size(); }
  /// The whole size (prefix included) of the request whose bytes are arriving, once its size
  /// prefix is in; 0 when no request is under way.
  std::size_t partial_request_size() const;

 private:
  struct reply {
    std::uint64_t slot = 0;
    std::int32_t correlation_id = 0;
    bool ready = false;
    std::string body;
  };
  void handle(std::string_view request, std::int64_t now_ms);
  void unsupported_api_versions(std::int32_t correlation_id);
  void send_ready();
  void finish(std::string reason);

  service& service_;
  std::uint64_t id_;
  std::int32_t node_;
  std::string in_, out_;
  std::deque<reply> replies_;
  std::uint64_t next_slot_ = 1;
  std::int64_t last_received_ms_ = 0;
  bool done_ = false;
  std::string end_reason_;
};

}  // namespace mqlab::net::kafka
