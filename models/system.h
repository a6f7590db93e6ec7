// A simulated system as plain data: arrivals, service stations, request pipelines (serial
// steps, parallel fork/join, asynchronous hand-off through the broker), broker topology,
// consumer groups and faults. The workbench fills it from a scenario file; system_model runs it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broker/amqp/broker.h"
#include "broker/jms/broker.h"
#include "broker/work.h"
#include "models/resources.h"
#include "sim/arrivals.h"
#include "sim/distribution.h"
#include "sim/time.h"

namespace mqlab::models {

struct pipeline_step;
/// Steps run one after another.
using pipeline = std::vector<pipeline_step>;

/// Visit a named station (queue there, be served).
struct station_step {
  std::string station;
};
/// Run the branches at the same time; continue when all are done (fork/join).
struct parallel_step {
  std::vector<pipeline> branches;
};
/// How a confirming publisher tries again after a nack, a closed channel or a confirm that
/// took longer than `confirm_timeout`: Spring Retry's SimpleRetryPolicy (max_attempts counts
/// the first try) with an ExponentialBackOffPolicy. The defaults are Spring Boot's
/// spring.rabbitmq.template.retry.* ones.
struct retry_policy {
  int max_attempts = 3;
  sim::duration initial_interval = sim::duration::seconds(1);
  double multiplier = 1.0;
  sim::duration max_interval = sim::duration::seconds(10);

  /// The wait before attempt `attempt` + 1 (attempt counts from 1).
  sim::duration backoff(int attempt) const;
};

/// Hand the request's follow-up work to the broker and go on at once (asynchronous hand-off).
struct publish_step {
  std::string exchange;
  std::string routing_key;
  std::vector<std::string> routing_keys;  // if set: one chosen uniformly per message
  broker::amqp::field_table headers;      // for headers exchanges
  std::string tag;                        // if set: e2e.<tag>.* metrics for these messages
  sim::duration cost;            // extra client-side time before the publish leaves
  bool confirm = false;          // wait for the broker's publisher confirm before going on
  std::optional<sim::duration> confirm_timeout;  // confirm: a confirm not back by then counts as failed
  std::optional<retry_policy> retry;             // confirm: publish again after a failure
  std::uint32_t message_bytes = 100;
  std::uint8_t priority = 0;     // 0 = none
  std::optional<std::int64_t> expiration_ms;
  bool persistent = false;
  int keys = 0;  // 0: no key; N: each message belongs to key-0 .. key-(N-1), uniformly: order is checked per key
};
/// Produce a record to a Kafka topic (the simulated cluster) and go on after `cost`.
struct produce_step {
  std::string topic;
  int keys = 0;                  // 0: no key; N: key-0 .. key-(N-1), uniformly (e.g. user ids)
  bool keyed = true;             // false: the key stays in the payload only; records go round-robin
  std::int8_t acks = 1;          // 0, 1 or -1 (all)
  std::uint32_t record_bytes = 100;
  sim::duration cost;
  std::uint32_t batch_size = 16384;  // batch.size: a partition's batch leaves when it is this full...
  // linger.ms: ...or this long after its first record (0: at once). 5 ms is Kafka 4.0's default
  // (KIP-1030) and librdkafka's since 1.5.
  sim::duration linger = sim::duration::milliseconds(5);
};

/// Send a JMS message to a queue or topic of the simulated ActiveMQ-style broker, go on after `cost`.
struct send_step {
  broker::jms::destination_kind kind = broker::jms::destination_kind::queue;
  std::string destination;
  bool persistent = true;
  std::uint8_t priority = 4;
  std::int64_t time_to_live_ms = 0;
  std::uint32_t message_bytes = 100;
  sim::duration cost;
  int keys = 0;                 // 0: no key; N: key-0 .. key-(N-1), uniformly (e.g. customer ids): order is checked per key
  bool message_groups = false;  // the key is the JMSXGroupID: ActiveMQ keeps a key's messages on one consumer
};

/// Spend time without a shared resource (think time, local work).
struct delay_step {
  sim::distribution time;  // seconds
};

struct pipeline_step {
  std::variant<station_step, parallel_step, publish_step, delay_step, produce_step, send_step> step;
};

/// Every step of type Step in `steps` and in their parallel branches, in order.
template <typename Step>
std::vector<Step> steps_of(const pipeline& steps) {
  std::vector<Step> out;
  for (const auto& s : steps) {
    if (const auto* x = std::get_if<Step>(&s.step)) out.push_back(*x);
    if (const auto* p = std::get_if<parallel_step>(&s.step)) {
      for (const auto& branch : p->branches) std::ranges::copy(steps_of<Step>(branch), std::back_inserter(out));
    }
  }
  return out;
}
/// Whether `steps`, or a parallel branch in them, contain a step of type Step that `match`es.
template <typename Step, typename Match>
bool uses_step(const pipeline& steps, const Match& match) {
  return std::ranges::any_of(steps_of<Step>(steps), match);
}
template <typename Step>
bool uses_step(const pipeline& steps) {
  return !steps_of<Step>(steps).empty();
}

struct station_spec {
  int servers = 1;
  sim::distribution service = sim::distribution::exponential(0.01);  // seconds
  std::uint64_t capacity = 0;  // 0 = unbounded; arrivals beyond are rejected
};

struct queue_spec {
  std::string name;
  std::uint32_t node = 0;  // the cluster node it is declared on, which owns it
  bool durable = true;
  broker::amqp::field_table arguments;
};

struct exchange_spec {
  std::string name;
  std::string type = "direct";
};

struct binding_spec {
  std::string queue;
  std::string exchange;
  std::string key;
  broker::amqp::field_table arguments;
};

struct broker_spec {
  std::vector<exchange_spec> exchanges;
  std::vector<queue_spec> queues;
  std::vector<binding_spec> bindings;
  broker::amqp::cluster_config cluster;
};

/// How a consumer's work on a message fails (its listener throws): on a share of tries, at
/// random, or on every try of one message in `poison_every` (a poison message: chosen by a hash
/// of the message's stamp, so the same message fails each time it comes back).
struct failure_spec {
  double probability = 0;
  std::uint32_t poison_every = 0;
  bool any() const { return probability > 0 || poison_every > 0; }
  /// Whether this try fails, for a message whose stamp is `stamp`.
  bool fails(std::string_view stamp, sim::rng& rng) const;
};

/// Spring AMQP's SimpleMessageListenerContainer with maxConcurrentConsumers: a consumer that
/// received more than `consecutive_active_trigger` times in a row (each time within
/// `receive_timeout`) starts another, if the last start was over `start_consumer_min_interval`
/// ago; one that timed out more than `consecutive_idle_trigger` times in a row stops, if the
/// last stop was over `stop_consumer_min_interval` ago. Never below `min` nor above the
/// group's count. The defaults are Spring's.
struct elastic_spec {
  int min = 1;  // concurrentConsumers
  int consecutive_active_trigger = 10, consecutive_idle_trigger = 10;
  sim::duration start_consumer_min_interval = sim::duration::seconds(10);
  sim::duration stop_consumer_min_interval = sim::duration::seconds(60);
  sim::duration receive_timeout = sim::duration::seconds(1);
};

/// `count` identical consumers on `queue`, each on its own connection and channel.
struct consumer_group_spec {
  std::string name;
  std::string queue;
  int count = 1;                        // elastic: maxConcurrentConsumers
  std::optional<elastic_spec> elastic;  // `concurrency: MIN-MAX`
  int initial_count() const { return elastic ? elastic->min : count; }
  std::uint16_t prefetch = 0;  // 0 = unlimited
  bool auto_ack = false;
  // Manual acks go out with multiple=true once every `ack_every` messages (PerfTest's
  // --multi-ack-every): one frame settles them all; 1 acks each message on its own.
  std::uint16_t ack_every = 1;
  pipeline work;               // what a consumer does per message, one message at a time
  std::uint32_t node = 0;      // cluster node the consumers connect to
  // Polling instead of subscribing: each consumer asks with basic.get (a round trip) for its
  // next message, and after a basic.get-empty waits `poll_interval` before asking again.
  bool pull = false;
  sim::duration poll_interval = sim::duration::milliseconds(10);
  failure_spec failure;        // a failed message is rejected once its work is done
  // Spring's default-requeue-rejected: a failed message is requeued (true, its default) or
  // rejected without requeue, so its queue's dead-letter exchange gets it (or it is dropped).
  bool requeue_rejected = true;
};

struct kafka_topic_spec {
  std::string name;
  std::int32_t partitions = 1;
  std::int32_t replication_factor = 1;
  std::int32_t min_insync_replicas = 1;
  bool unclean_leader_election = false;
};

/// When a Kafka consumer commits its offsets (the seed's delivery semantics).
enum class commit_mode {
  poll,               // commitSync once a poll's records are worked through: at-least-once
  auto_interval,      // enable.auto.commit: inside poll, every auto_commit_interval
  record,             // after each record, its offset + 1 (Spring's MANUAL_IMMEDIATE)
  before_processing,  // right after the poll, before any record is worked on: at-most-once
};

/// `count` consumers of one Kafka consumer group; each polls, then works through the records
/// (`threads` at a time, in poll order), commits as `commit` says, and polls again.
struct kafka_group_spec {
  std::string group;
  std::string topic;
  int count = 1;
  sim::distribution service = sim::distribution::constant(0.001);  // per record, seconds
  std::string assignor = "range";
  std::size_t max_poll_records = 500;
  sim::duration poll_interval = sim::duration::milliseconds(5);  // wait when a poll returned nothing
  sim::duration session_timeout = sim::duration::seconds(10);
  sim::duration heartbeat_interval = sim::duration::seconds(1);
  commit_mode commit = commit_mode::poll;
  sim::duration auto_commit_interval = sim::duration::seconds(5);  // auto.commit.interval.ms
  int threads = 1;  // records worked on at once; with commit per record a later one may commit first
};

struct kafka_spec {
  std::int32_t brokers = 0;  // 0: no Kafka cluster
  std::vector<kafka_topic_spec> topics;
  sim::duration replication_interval = sim::duration::milliseconds(10);  // profile ideal: followers copy this often
  sim::duration replica_fetch_wait_max = sim::duration::milliseconds(500);  // replica.fetch.wait.max.ms
  sim::duration replica_lag_time_max = sim::duration::seconds(10);
  std::vector<kafka_group_spec> groups;
  // The brokers run in one process on this many cores together, as mqlab broker's Kafka server
  // runs every broker on one event-loop thread (1); each broker's own cores still bound it.
  // 0: each broker is a process of its own.
  int process_cores = 0;
};

/// `count` JMS consumers of one destination, each on its own connection and session, working
/// through deliveries one at a time. A durable subscriber (topic + subscription) keeps its
/// subscription while offline; `offline_from`..`offline_until` disconnects every member.
struct jms_consumer_spec {
  std::string name;
  broker::jms::destination_kind kind = broker::jms::destination_kind::queue;
  std::string destination;       // may carry options, e.g. "orders?consumer.prefetchSize=1"
  std::string subscription;      // topics: a durable subscription name
  std::string selector;
  int count = 1;
  std::optional<std::uint32_t> prefetch;
  broker::jms::ack_mode ack = broker::jms::ack_mode::auto_acknowledge;
  sim::distribution service = sim::distribution::constant(0.001);  // per message, seconds
  std::optional<sim::duration> offline_from, offline_until;
  // A failed message is rolled back, as ActiveMQ's consumer does when onMessage throws (or a
  // transacted session rolls back): the redelivery policy brings it back, then ActiveMQ.DLQ.
  failure_spec failure;
};

struct jms_spec {
  std::vector<jms_consumer_spec> consumers;
  bool enabled = false;  // a jms section exists
};

/// A group of ZooKeeper clients running one of the seed's recipes on the coordination store.
struct zk_group_spec {
  enum class recipe_kind { leader, lock };
  std::string name;
  int count = 3;
  recipe_kind recipe = recipe_kind::leader;
  sim::duration hold = sim::duration::milliseconds(100);   // lock: a holder keeps it this long
  sim::duration think = sim::duration::milliseconds(100);  // lock: then waits this long to ask again
  bool stop_on_disconnect = true;  // false: a cut-off holder goes on acting (no SUSPENDED handling)
};

struct zookeeper_spec {
  sim::duration session_timeout = sim::duration::seconds(6);
  std::vector<zk_group_spec> groups;
};

/// What a broker node runs on.
struct node_resources {
  int cores = 4;
  sim::duration wake_up;  // CPU a sleeping thread spends waking for work (cpu_pool); 0: free
  disk_config disk;
  double nic_bandwidth = 1.25e9;  // bytes per second, the node's egress
  // A write to a client that would follow the last one sooner than this waits until then, with
  // whatever else comes for that client meanwhile (mqlab broker: 100 us). 0: written at once.
  sim::duration write_coalescing;
};

/// What one unit of each work kind costs on a broker's CPU, in nanoseconds (bytes: per byte).
struct cost_table {
  std::array<double, broker::work_kinds> ns{};
  double price(const broker::work_row& row) const;  // CPU time of a row, in ns
};

/// The resources and per-operation costs a simulated broker runs on: a profile
/// (profiles/NAME.yaml) with the scenario's overrides. `ideal` costs nothing and takes no
/// time: brokers answer at once, as in pure queueing exercises.
struct cost_model {
  std::string profile = "ideal";
  bool ideal = true;
  cost_table amqp, kafka, jms;
  node_resources node;                               // every node's, unless named below
  std::map<std::uint32_t, node_resources> per_node;  // nodes that differ, by number
  link_config client_link;        // between a client and its node, each direction
  link_config node_link;          // between two nodes, each direction
  client_host_config clients;     // what a broker's clients share; none by default
  // One machine under every node and client (a loopback setup): its cores; 0: each node is a
  // machine of its own.
  int host_cores = 0;

  const node_resources& of(std::uint32_t node) const {
    auto it = per_node.find(node);
    return it == per_node.end() ? this->node : it->second;
  }
};

/// The AMQP cluster node a fault names: "node-N" or "N"; nullopt for anything else.
std::optional<std::uint32_t> amqp_node_named(const std::string& name);

/// A fault on a node's resources rather than its state.
enum class resource_fault_kind { slow, pause, degrade };
struct resource_fault {
  resource_fault_kind kind = resource_fault_kind::slow;
  double factor = 1.0;       // slow
  sim::duration length;      // pause
  std::optional<sim::distribution> latency;  // degrade: every link to and from the node
  std::optional<double> bandwidth;
};

enum class fault_kind { crash_node, restart_node, stop_station, resume_station, kill_consumer, partition, heal, resources,
                        disconnect };

struct fault_spec {
  sim::duration at;
  fault_kind kind = fault_kind::crash_node;
  std::string target;        // node "node-1" / "broker-2" / station name / consumer or ZooKeeper group name
  std::string other;         // second node of a partition
  int index = 0;             // which consumer (or ZooKeeper client) of a group
  sim::duration length;      // disconnect: how long a ZooKeeper client is cut off from the ensemble
  resource_fault resources;  // fault_kind::resources: slow, pause or degrade `target`
};

/// One runnable system (one variant of a scenario).
struct system_spec {
  sim::duration duration = sim::duration::seconds(60);
  sim::duration warmup;
  sim::duration sample_interval = sim::duration::seconds(1);
  std::shared_ptr<sim::arrival_process> arrivals;  // copied per replication
  std::uint32_t producer_node = 0;
  std::map<std::string, station_spec> stations;
  pipeline request;  // what each arrival does; its end is the response
  broker_spec broker;
  std::vector<consumer_group_spec> consumers;
  kafka_spec kafka;
  jms_spec jms;
  zookeeper_spec zookeeper;
  std::vector<fault_spec> faults;
  cost_model costs;
};

/// Every step of type Step the system runs: its request's and its consumers' work.
template <typename Step>
std::vector<Step> steps_of(const system_spec& spec) {
  auto out = steps_of<Step>(spec.request);
  for (const auto& g : spec.consumers) std::ranges::copy(steps_of<Step>(g.work), std::back_inserter(out));
  return out;
}

}  // namespace mqlab::models
