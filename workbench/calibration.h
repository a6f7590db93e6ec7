// Calibration (`mqlab calibrate`): the fixed probe workloads, what one message of each costs the
// embedded broker core in work kinds, and the fit of per-kind CPU costs to the rates a real
// broker sustained under them. The simulation charges exactly the core's work rows, so costs
// fitted to the core's own counts make the simulated broker saturate where the measured one did.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

#include "broker/amqp/message.h"
#include "broker/work.h"
#include "models/system.h"

namespace mqlab::workbench {

/// The prefetch window of a probe's consumer when it acknowledges, and the messages the backlog
/// probe keeps waiting behind it (published in a fraction of a second even on RabbitMQ).
inline constexpr std::uint16_t probe_prefetch = 500;
inline constexpr std::uint32_t probe_backlog = 5000;

/// One AMQP probe: a topology and what is published into it, as fast as the broker takes it,
/// with a consumer on every queue so that queues stay short (a growing queue costs a real
/// broker more per message than a short one, which no per-operation cost can say), but for
/// the backlog probe's standing `backlog`.
struct amqp_probe {
  std::string name;
  std::string exchange_type = "direct";
  int queues = 1;     // bound to the probe's exchange
  int bindings = 1;   // per queue; exactly one of them matches what is published
  std::size_t bytes = 100;
  bool acks = false;        // consumers acknowledge every message (else no-ack)
  // With acks: one basic.ack with multiple=true settles this many deliveries (1: each on its own).
  std::uint16_t ack_every = 1;
  bool confirms = false;    // the publisher waits for publisher confirms
  bool persistent = false;  // durable queue, delivery mode 2
  // A cluster's probes: the queues are declared on the first node given, the publisher and the
  // consumer connect to these nodes (indexes into the nodes given).
  std::uint32_t publisher_node = 0, consumer_node = 0;
  bool mirrored = false;  // the queues mirrored to every node (x-ha-policy: all)
  // Several publishers, each on its own connection; one at a time: each waits for the confirm of
  // its last publish, so the broker reads every message on its own (a socket read a message).
  int publishers = 1;
  bool one_at_a_time = false;
  // Messages published before the consumer starts and kept waiting in the queue throughout: each
  // message is then stored and fetched again (work kind stored). REQUIRES acks: a consumer's
  // prefetch window holds the rest back.
  std::uint32_t backlog = 0;
  std::uint32_t cluster_nodes() const { return std::max(publisher_node, consumer_node) + 1; }
};

/// The probes `mqlab calibrate` runs against `nodes` nodes, in order: each one varies what the
/// ones before it fixed; a cluster's probes (cluster_probes) come last.
std::vector<amqp_probe> amqp_probes(std::uint32_t nodes = 1);
/// The probes it adds when given a cluster of `nodes` (at least 2): a message crossing from
/// the publisher's node to the owner's and on to the consumer's; one mirrored to every node;
/// and both at once.
std::vector<amqp_probe> cluster_probes(std::uint32_t nodes);

struct probe_binding {
  std::string queue, routing_key;
  broker::amqp::field_table arguments;
};

/// A probe spelled out as declarations and a message; the core run and the network run read it alike.
struct probe_topology {
  std::string exchange, exchange_type;
  std::vector<std::string> queues;
  bool durable = false;
  broker::amqp::field_table queue_arguments;
  std::vector<probe_binding> bindings;
  std::string routing_key;
  broker::amqp::basic_properties properties;
  std::string body;
};
/// Names start with `prefix` so that a probe never touches what else lives on the broker.
probe_topology topology_of(const amqp_probe& p, const std::string& prefix);

/// What a probe sustained on a real broker: messages counted between two checkpoints, over how long.
struct probe_measurement {
  std::uint64_t messages = 0;
  double seconds = 0;
  double client_cpu = 0;  // CPU seconds the prober's own thread used meanwhile
  double broker_cpu = 0;  // CPU seconds the broker's process used meanwhile (0: not measured)
  double broker_memory_grown = 0;  // bytes by which the broker's resident memory grew meanwhile
  double broker_fresh_cpu = 0;     // of broker_cpu, what first touches of that memory took (priced apart)
  double rate() const { return seconds > 0 ? static_cast<double>(messages) / seconds : 0; }
  /// The cores the prober kept busy: on a machine it shares with the broker, not the broker's.
  double client_cores() const { return seconds > 0 ? client_cpu / seconds : 0; }
};

using work_counts = std::array<double, broker::work_kinds>;

/// What one message of a probe costs: its work counts on the whole node and on each
/// serialising process (a queue, a channel) it passes through.
struct probe_work {
  work_counts node{};
  std::vector<work_counts> processes;
};
/// Runs a probe's message through an embedded AMQP core with its meter on: a cluster of
/// `nodes` (its whole work summed, as the broker's CPU time sums its nodes').
probe_work metered_work(const amqp_probe& p, std::uint32_t nodes = 1);

/// What the prober's client does per message of an AMQP probe: messages it sends (the publish,
/// an ack per queue when consumers acknowledge) and receives (a delivery per queue, a confirm).
struct client_work {
  double sends = 0, receives = 0;
  double socket_calls = 0;  // a write per publish and a read per confirm when it waits for each; else next to none
};
client_work client_work_of(const amqp_probe& p);


/// One Kafka probe: records produced into a topic of its own as fast as the broker takes them,
/// with a consumer (no group: it is assigned every partition) reading them as they come, or none.
struct kafka_probe {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;  // above 1: the followers' fetches cost the brokers too
  bool consumer = true;        // without one, an appended record is told apart from a fetched one
  std::size_t bytes = 100;    // each record's value; records have no key
  int acks = 1;               // 0, 1 or -1 (all)
  int batch_records = 10000;  // librdkafka's batch.num.messages: 1 sends a produce request per record
  // The consumer's fetch.min.bytes: large, it fetches seldom and many batches at once, so that
  // a request's cost shows apart from a fetch's (elsewhere a fetch returns about one batch).
  int fetch_min_bytes = 1;
  // Above 0: that many producers, each with one request of one record in flight, so that every
  // request is alone on its connection when it comes and the broker reads it alone (what a
  // read costs shows); 0: one producer keeping many requests in flight, read many at a time.
  int one_at_a_time = 0;
};

/// The Kafka probes `mqlab calibrate --kafka` runs on a cluster of `brokers`, in order (those
/// replicating to more brokers than it has are left out).
std::vector<kafka_probe> kafka_probes(int brokers = 1);

/// How the clients asked the broker during a Kafka probe, as they counted it: records per
/// produced batch (one partition's share of a produce request) and per partition fetched.
struct kafka_batching {
  double records_per_batch = 1, records_per_fetch = 1;
};

/// What one record of a Kafka probe costs: the core's work for a produced batch and a fetch,
/// met in an embedded Kafka core and spread over records as the measured batching says.
probe_work metered_work(const kafka_probe& p, const kafka_batching& b);

/// An AMQP probe as it ran: what it was, what a message costs the core, what was measured.
struct probe_record {
  amqp_probe probe;
  probe_work work;
  probe_measurement measured;
};

/// What one probe says of the client's CPU: what it did per message and what that took.
struct client_cpu_sample {
  std::vector<double> per_message;  // how many of each costed thing a message took
  probe_measurement measured;
};
/// Non-negative costs (ns) of the things counted, so that each sample's CPU time per message is
/// met with the least relative error; the reason when no sample measured the client's CPU.
std::expected<std::vector<double>, std::string> fit_client_cpu(std::span<const client_cpu_sample> samples);

/// A client's CPU per message sent and per message received and per socket call, in ns: fitted
/// (non-negative least squares, relative) to the prober's own CPU time per message over the probes.
struct client_costs {
  double send_ns = 0, receive_ns = 0, socket_call_ns = 0;
};
std::expected<client_costs, std::string> fit_client_costs(std::span<const probe_record> probes);

/// Time one message holds the busiest resource, in ns: the node's `cores` share all the work,
/// and a serialising process does its part on one core at a time.
double bottleneck_ns(const probe_work& w, const models::cost_table& costs, double cores);
/// Messages per second the node sustains under the probe.
double predicted_rate(const probe_work& w, const models::cost_table& costs, double cores);

struct fitted_costs {
  models::cost_table costs;
  std::array<bool, broker::work_kinds> measured{};  // kinds some probe exercised
  double prior_scale = 1;  // what scales the prior to the measurements as a whole
};

/// Fits per-kind costs (ns) so that each probe's predicted rate, with the broker's node on
/// `cores[p]` cores, matches `rates` (messages per second) in relative terms: non-negative
/// least squares around the current costs, repeated while the misfit falls, with the maximum
/// over resources smoothed so that the fit can move from one bottleneck to another. Kinds no
/// probe exercises, and directions the probes cannot tell apart, stay at the prior scaled by
/// prior_scale (a weak pull: a thousandth of a probe's weight per unit of ratio).
std::expected<fitted_costs, std::string> fit_costs(std::span<const probe_work> work, std::span<const double> rates,
                                                    std::span<const double> cores, const models::cost_table& prior);

}  // namespace mqlab::workbench
