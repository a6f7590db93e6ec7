// The JMS personality of the embedded broker core, following ActiveMQ 5 (Classic): queues and
// topics created on first use, durable and non-durable subscriptions, selectors, the five
// acknowledge modes, prefetch policies (0 = pull), priorities, time-to-live, virtual topics,
// and the redelivery policy with a dead-letter queue. Like the AMQP core it does no I/O, reads
// no clock and starts no thread: every call takes `now` and deliveries come out as events.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/common.h"
#include "broker/work.h"
#include "broker/jms/destination.h"
#include "broker/jms/message.h"

namespace mqlab::broker::jms {

/// javax.jms.Session's constants, plus ActiveMQ's INDIVIDUAL_ACKNOWLEDGE.
enum class ack_mode : std::uint8_t {
  session_transacted = 0,
  auto_acknowledge = 1,
  client_acknowledge = 2,     // acknowledging one message acknowledges every earlier one of the session
  dups_ok_acknowledge = 3,    // acknowledged lazily in batches: a failure may deliver duplicates
  individual_acknowledge = 4  // exactly the message acknowledged
};

/// The JMS exception a call fails with.
enum class error_code { invalid_destination, invalid_selector, invalid_client_id, illegal_state };
struct error {
  error_code code;
  std::string text;  // "InvalidSelectorException: ..." as ActiveMQ words it
};
template <typename T>
using result = std::expected<T, error>;

/// ActiveMQPrefetchPolicy: how many unacknowledged messages a consumer may hold.
struct prefetch_policy {
  std::uint32_t queue = 1000, topic = 32766, durable_topic = 100;
  /// Applies jms.prefetchPolicy.all / queuePrefetch / topicPrefetch / durableTopicPrefetch from a
  /// broker URL such as "tcp://localhost:61616?jms.prefetchPolicy.all=50".
  static std::expected<prefetch_policy, std::string> from_url(std::string_view url);
};

/// ActiveMQ's RedeliveryPolicy, with its defaults.
struct redelivery_policy {
  std::uint32_t maximum_redeliveries = 6;
  std::int64_t initial_redelivery_delay_ms = 1000;
  double backoff_multiplier = 5;
  bool use_exponential_backoff = false;
  /// Delay before the n-th redelivery (n >= 1).
  std::int64_t delay_ms(std::uint32_t n) const;
};

/// Where messages that exhausted their redeliveries (or expired) go.
struct dead_letter_strategy {
  bool individual = false;              // ActiveMQ.DLQ.Queue.<name> instead of the shared ActiveMQ.DLQ
  bool process_non_persistent = false;  // ActiveMQ drops non-persistent dead letters by default
  bool process_expired = true;
};

struct broker_config {
  redelivery_policy redelivery;
  dead_letter_strategy dead_letter;
  /// ActiveMQ's destination policy prioritizedMessages: false (its default) keeps a backlog in
  /// arrival order whatever JMSPriority says; true serves priority 9 first. Per destination with
  /// set_prioritized_messages().
  bool prioritized_messages = false;
};

struct connection_options {
  std::string client_id;  // required for durable subscriptions; unique among open connections
  prefetch_policy prefetch;
};

/// A producer's quality of service. As with Spring's JmsTemplate, the values only apply when
/// explicit_qos_enabled; otherwise the JMS defaults are used (persistent, priority 4, no TTL).
struct producer_qos {
  delivery_mode mode = delivery_mode::persistent;
  std::uint8_t priority = 4;
  std::int64_t time_to_live_ms = 0;
  bool explicit_qos_enabled = true;
  /// An absolute JMSExpiration in ms since the epoch (STOMP's `expires` header); when non-zero
  /// it replaces time_to_live_ms.
  std::int64_t expiration_ms = 0;
};

struct consumer_options {
  destination_kind kind = destination_kind::queue;
  std::string destination;       // may carry options: "orders?consumer.prefetchSize=10"
  std::string selector;          // "" selects everything
  std::string subscription_name; // topics: non-empty makes the subscription durable
  bool no_local = false;         // topics: skip messages sent on this consumer's connection
  std::optional<std::uint32_t> prefetch;
};

using connection_id = std::uint32_t;
using session_id = std::uint32_t;
using consumer_id = std::uint32_t;

/// A message dispatched to a consumer.
struct delivery {
  consumer_id consumer = 0;
  session_id session = 0;
  std::uint64_t delivery_id = 0;  // increasing per session; what acknowledge() takes
  message_ptr msg;
  bool redelivered = false;         // JMSRedelivered
  std::uint32_t delivery_count = 1; // JMSXDeliveryCount
};

struct destination_stats {
  std::uint64_t enqueued = 0, dispatched = 0, acknowledged = 0, redelivered = 0;
  std::uint64_t expired = 0, dead_lettered = 0, dropped = 0;
};

class broker {
 public:
  explicit broker(broker_config config = {});
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // --- connections, sessions, consumers ----------------------------------------------
  result<connection_id> connect(connection_options options, instant now);
  /// Closes the connection's sessions: unacknowledged messages go back (redelivered).
  void disconnect(connection_id conn, instant now);
  result<session_id> create_session(connection_id conn, ack_mode mode);
  void close_session(session_id session, instant now);
  result<consumer_id> create_consumer(session_id session, const consumer_options& options, instant now);
  /// A durable subscription survives its consumer's close; a non-durable one ends with it.
  void close_consumer(consumer_id consumer, instant now);
  /// Deletes a durable subscription of this connection's client id (not while it is active).
  result<void> unsubscribe(connection_id conn, std::string_view subscription_name);

  // --- producing -------------------------------------------------------------------------
  /// Sends to a queue or topic (created on first use); returns the JMSMessageID. In a
  /// transacted session the message is held until commit().
  result<std::string> send(session_id session, destination_kind kind, std::string_view destination,
                           message_spec spec, const producer_qos& qos, instant now);

  // --- consuming -------------------------------------------------------------------------
  /// For a prefetch-0 consumer: asks for one message (delivered now if one is ready, or as
  /// soon as one arrives). receive(timeout) is pull() plus the caller's timer and cancel_pull().
  result<void> pull(consumer_id consumer, instant now);
  void cancel_pull(consumer_id consumer);
  /// The application is done with a delivery; what that settles depends on the ack mode.
  result<void> acknowledge(session_id session, std::uint64_t delivery_id, instant now);
  result<void> commit(session_id session, instant now);
  /// Transacted sessions: drops held sends and redelivers consumed messages.
  result<void> rollback(session_id session, instant now);
  /// A message listener threw on this delivery: as ActiveMQ's consumer rolls back the message it
  /// was handing over, it comes back after the redelivery policy's delay, or once past
  /// maximumRedeliveries goes to the dead-letter queue. The session's other deliveries stay.
  result<void> redeliver(session_id session, std::uint64_t delivery_id, instant now);
  /// Session.recover(): redelivers every unacknowledged message of the session.
  result<void> recover(session_id session, instant now);
  /// ActiveMQ's poison acknowledgement (what a STOMP NACK sends): the delivery goes to the
  /// dead-letter queue at once with `cause`, without redelivery (non-persistent messages are
  /// dropped, as the dead-letter strategy says).
  result<void> poison(session_id session, std::uint64_t delivery_id, std::string_view cause, instant now);
  /// A QueueBrowser's view: the messages waiting in a queue, in the order they would be
  /// dispatched, without consuming them (expired ones left out).
  std::vector<message_ptr> browse(std::string_view queue, instant now) const;

  /// Sets prioritizedMessages for one destination (its backlog's later arrivals follow it).
  void set_prioritized_messages(destination_kind kind, std::string_view name, bool prioritized);

  // --- time ------------------------------------------------------------------------------
  /// When advance() has something to do (expiry, a delayed redelivery), or instant::never().
  instant next_deadline() const;
  void advance(instant now);

  // --- observation -----------------------------------------------------------------------
  std::vector<delivery> take_deliveries();
  /// The work calls did (off until enabled): a send's frame on the broker's CPU, enqueues,
  /// deliveries and acks on each queue's or subscription's dispatch, selector evaluations.
  work_meter& meter();
  /// Messages waiting in a queue (not yet dispatched).
  std::size_t queue_depth(std::string_view queue) const;
  /// Messages waiting for a durable subscription, e.g. while its subscriber is offline.
  std::size_t subscription_depth(std::string_view client_id, std::string_view subscription_name) const;
  destination_stats stats(destination_kind kind, std::string_view name) const;
  bool exists(destination_kind kind, std::string_view name) const;
  /// Unacknowledged deliveries a consumer holds (its prefetch buffer plus messages in use).
  std::uint32_t outstanding(consumer_id consumer) const;
  /// The consumer's prefetch after its destination options and the connection's policy; 0 is
  /// a pull consumer, which receives only what it asks for with pull().
  std::uint32_t prefetch_of(consumer_id consumer) const;

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace mqlab::broker::jms
