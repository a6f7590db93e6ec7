// Private to the JMS core's .cc files: endpoints (a queue, or one topic subscription) with their
// priority-ordered backlog, consumers, sessions and the deadline heap.
#pragma once

#include <array>
#include <deque>
#include <utility>
#include <map>
#include <queue>
#include <set>

#include "broker/jms/broker.h"
#include "broker/work.h"

namespace mqlab::broker::jms {

/// A message waiting for dispatch, or out with a consumer.
struct pending {
  message_ptr msg;
  std::uint32_t redeliveries = 0;
  std::int64_t available_ns = 0;  // a delayed redelivery waits until then
};

/// Ten FIFO lanes, JMSPriority 9 first when the destination's messages are prioritised
/// (ActiveMQ's prioritizedMessages); otherwise everything waits in the first lane, in arrival order.
struct backlog {
  std::array<std::deque<pending>, 10> lanes;
  std::size_t size = 0;
  bool prioritized = false;
  std::size_t lane_of(const message& m) const { return prioritized ? 9u - m.priority : 0u; }
  void push_back(pending p);
  void push_front(pending p);
};

/// Where messages wait for consumers: a queue, or one subscription of a topic.
struct endpoint {
  std::uint64_t id = 0;        // its work site (a queue or subscription is dispatched serially)
  std::string key;
  destination dest;            // the queue, or the subscription's topic
  destination_stats* stats;    // the destination's counters
  backlog waiting;
  std::vector<consumer_id> consumers;
  std::size_t next_consumer = 0;
  // Subscriptions only.
  bool durable = false;
  std::string client_id, subscription_name;
  std::optional<selector> filter;  // a subscription's selector applies when a message arrives
  connection_id owner = 0;         // for no_local
  bool no_local = false;
  // Queues only: ActiveMQ's message groups, each JMSXGroupID pinned to the consumer that got its first message.
  std::map<std::string, consumer_id, std::less<>> groups;
};

struct consumer_state {
  consumer_id id = 0;
  session_id session = 0;
  connection_id conn = 0;
  endpoint* at = nullptr;
  std::optional<selector> filter;  // a queue consumer's selector applies at dispatch
  std::uint32_t prefetch = 0;      // 0 = pull
  std::uint32_t outstanding = 0;
  std::uint32_t pull_credit = 0;

  /// May take another message: within its prefetch window, or (prefetch 0) asked for one.
  bool has_credit() const { return prefetch == 0 ? pull_credit > 0 : outstanding < prefetch; }
};

/// Endpoint keys: a queue by name, a durable subscription by client id and name.
inline std::string queue_key(std::string_view queue) { return "queue:" + std::string(queue); }
inline std::string durable_key(std::string_view client_id, std::string_view subscription) {
  return "durable:" + std::string(client_id) + ":" + std::string(subscription);
}

struct unacked {
  std::uint64_t delivery_id = 0;
  consumer_id consumer = 0;
  std::string endpoint_key;
  pending p;
};

/// How a delivery is settled: acknowledged (gone); returned because its consumer or session
/// closed (available again at once, as the broker redispatches it); or recovered by the client
/// (Session.recover / rollback: the redelivery policy's delay first).
enum class settlement : std::uint8_t { acknowledged, returned, recovered };

struct session_state {
  session_id id = 0;
  connection_id conn = 0;
  ack_mode mode = ack_mode::auto_acknowledge;
  std::uint64_t next_delivery_id = 1;
  std::deque<unacked> delivered;               // in delivery order
  std::vector<std::uint64_t> settled;          // transacted: acknowledged, applied at commit
  std::vector<std::uint64_t> lazy;             // dups-ok: acknowledged, applied in batches
  std::vector<std::pair<destination, message_ptr>> held_sends;  // transacted: sent at commit
  std::uint64_t next_message = 1;
};

struct connection_state {
  connection_options options;
  std::set<session_id> sessions;
};

struct broker::state {
  broker_config config;
  connection_id next_connection = 1;
  session_id next_session = 1;
  consumer_id next_consumer = 1;
  std::uint64_t next_subscription = 1;
  std::uint64_t next_endpoint = 1;
  work_meter meter;
  /// A queue's or subscription's dispatch is serial (one lock per destination in ActiveMQ).
  static work_site site_of(const endpoint& e) { return {node_id{}, e.id}; }
  std::map<connection_id, connection_state> connections;
  std::map<session_id, session_state> sessions;
  std::map<consumer_id, consumer_state> consumers;
  std::map<std::string, std::unique_ptr<endpoint>, std::less<>> endpoints;  // "queue:X", "durable:C:N", "sub:N"
  std::map<destination, destination_stats> stats;
  std::map<std::string, std::vector<endpoint*>, std::less<>> topic_subscriptions;  // topic -> its subscriptions
  std::map<std::string, std::set<std::string>, std::less<>> virtual_queues;         // VirtualTopic.X -> queues
  std::map<destination, bool> prioritized;  // set_prioritized_messages(), else config.prioritized_messages
  std::priority_queue<std::pair<std::int64_t, std::string>, std::vector<std::pair<std::int64_t, std::string>>,
                      std::greater<>> deadlines;
  std::vector<delivery> out;

  endpoint& queue_endpoint(const std::string& name);
  /// A new endpoint for `d`, its backlog ordered by the destination's policy.
  std::unique_ptr<endpoint> new_endpoint(std::string key, const destination& d);
  endpoint& add_subscription(std::string key, const std::string& topic, std::optional<selector> filter);
  /// The client's durable subscription, created or replaced as JMS 1.1 §6.11.1 says.
  result<endpoint*> durable_endpoint(const std::string& client_id, const std::string& topic, const consumer_options& o,
                                     std::optional<selector> filter);
  void enqueue(endpoint& e, pending p, instant now, bool dispatch_now = true);
  void publish(const destination& dest, const message_ptr& msg, connection_id from, instant now);
  void dispatch(endpoint& e, instant now);
  consumer_state* pick(endpoint& e, const message& m);
  consumer_state* any_with_credit(endpoint& e, const message& m);
  void deliver(consumer_state& c, pending p);
  /// Settles the session's deliveries that `pred` picks, then dispatches what that freed. Newest
  /// first, so returned messages end up at the front of their backlogs in their original order.
  template <typename Pred>
  void settle_where(session_state& s, Pred pred, settlement how, instant now) {
    std::set<std::string> touched;
    for (std::size_t i = s.delivered.size(); i-- > 0;) {
      if (!pred(s.delivered[i])) continue;
      touched.insert(s.delivered[i].endpoint_key);
      settle_one(s, i, how, now);
    }
    for (const std::string& key : touched) {
      if (auto e = endpoints.find(key); e != endpoints.end()) dispatch(*e->second, now);
    }
  }
  void settle_one(session_state& s, std::size_t index, settlement how, instant now);
  /// Takes a delivery out of its session, freeing a place in its consumer's prefetch window.
  unacked take_delivery(session_state& s, std::size_t index);
  /// One delivery by id: the common case (AUTO, INDIVIDUAL) without scanning the session.
  void settle_id(session_state& s, std::uint64_t delivery_id, settlement how, instant now);
  void redeliver(const unacked& u, settlement how, instant now);
  void dead_letter(const destination& from, const pending& p, std::string cause, instant now);
  bool expire_if_due(endpoint& e, const pending& p, instant now);
  void sweep(endpoint& e, instant now);
  void close_session(session_state& s, instant now);
  void close_consumer(consumer_id id, instant now);
  std::string new_message_id(session_state& s);
};

}  // namespace mqlab::broker::jms
