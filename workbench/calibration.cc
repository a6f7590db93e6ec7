// The probes, their metering in the embedded core, and the fit.
#include "workbench/calibration.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "broker/amqp/broker.h"
#include "broker/kafka/cluster.h"
#include "workbench/least_squares.h"

namespace mqlab::workbench {

namespace amqp = broker::amqp;
using broker::work_kind;

std::vector<amqp_probe> cluster_probes(std::uint32_t nodes) {
  const std::uint32_t last = nodes - 1;
  return {
      {.name = "across-nodes", .acks = true, .publisher_node = 1, .consumer_node = last},
      {.name = "mirrored", .acks = true, .mirrored = true},
      {.name = "mirrored-across-nodes", .acks = true, .publisher_node = 1, .consumer_node = last, .mirrored = true},
  };
}

std::vector<amqp_probe> amqp_probes(std::uint32_t nodes) {
  std::vector<amqp_probe> probes{
      {.name = "direct"},
      {.name = "fanout-10-queues", .exchange_type = "fanout", .queues = 10},
      {.name = "topic-10-bindings", .exchange_type = "topic", .bindings = 10},
      {.name = "topic-1000-bindings", .exchange_type = "topic", .bindings = 1000},
      {.name = "headers-10-bindings", .exchange_type = "headers", .bindings = 10},
      {.name = "headers-1000-bindings", .exchange_type = "headers", .bindings = 1000},
      {.name = "acks", .acks = true},
      {.name = "acks-4kB", .bytes = 4096, .acks = true},
      {.name = "confirms", .confirms = true},
      {.name = "persistent-1kB", .bytes = 1024, .acks = true, .confirms = true, .persistent = true},
      {.name = "confirms-one-at-a-time", .confirms = true, .publishers = 32, .one_at_a_time = true},
      {.name = "acks-backlog", .acks = true, .backlog = probe_backlog},
      {.name = "acks-multiple", .acks = true, .ack_every = probe_prefetch / 2},
  };
  if (nodes > 1) std::ranges::copy(cluster_probes(nodes), std::back_inserter(probes));
  return probes;
}

client_work client_work_of(const amqp_probe& p) {
  const double queues = p.queues;
  return {1 + (p.acks ? queues / p.ack_every : 0), queues + (p.confirms ? 1 : 0), p.one_at_a_time ? 2.0 : 0.0};
}

std::expected<std::vector<double>, std::string> fit_client_cpu(std::span<const client_cpu_sample> samples) {
  matrix a;
  std::vector<double> b;
  for (const auto& s : samples) {
    if (s.measured.messages == 0 || s.measured.client_cpu <= 0) continue;
    const double ns = s.measured.client_cpu * 1e9 / static_cast<double>(s.measured.messages);
    std::vector<double> row;
    for (double k : s.per_message) row.push_back(k / ns);  // relative: each probe's error over its own time
    a.push_back(std::move(row));
    b.push_back(1.0);
  }
  if (a.empty()) return std::unexpected("no probe measured the client's CPU");
  return nonnegative_least_squares(a, b);
}

std::expected<client_costs, std::string> fit_client_costs(std::span<const probe_record> probes) {
  std::vector<client_cpu_sample> samples;
  for (const auto& p : probes) {
    const client_work w = client_work_of(p.probe);
    samples.push_back({{w.sends, w.receives, w.socket_calls}, p.measured});
  }
  auto x = fit_client_cpu(samples);  // g++ 12's std::expected has no transform()
  if (!x) return std::unexpected(x.error());
  return client_costs{(*x)[0], (*x)[1], (*x)[2]};
}

std::vector<kafka_probe> kafka_probes(int brokers) {
  std::vector<kafka_probe> all = {
      {.name = "produce-batched"},
      {.name = "produce-only", .consumer = false},
      {.name = "produce-unbatched", .batch_records = 1},
      {.name = "produce-10-per-batch", .batch_records = 10, .fetch_min_bytes = 1 << 20},
      {.name = "produce-4kB", .bytes = 4096},
      {.name = "acks-0", .acks = 0},
      {.name = "acks-all", .acks = -1},
      {.name = "6-partitions", .partitions = 6},
      {.name = "produce-one-at-a-time", .batch_records = 1, .one_at_a_time = 16},
      {.name = "replicated", .partitions = 3, .replication_factor = 3, .acks = -1},
  };
  std::erase_if(all, [&](const kafka_probe& p) { return p.replication_factor > brokers; });
  return all;
}

namespace {

/// The binding of a probe's queue that matches what the probe publishes is number 0.
probe_binding binding_of(const amqp_probe& p, const std::string& queue, int i) {
  if (p.exchange_type == "topic") return {queue, fmt::format("probe.{}.*", i), {}};
  if (p.exchange_type == "headers") {
    return {queue, "", {{"x-match", amqp::field_value{std::string("all")}}, {"probe", amqp::field_value{fmt::format("{}", i)}}}};
  }
  return {queue, "probe", {}};
}

}  // namespace

probe_topology topology_of(const amqp_probe& p, const std::string& prefix) {
  probe_topology t;
  t.exchange = fmt::format("{}.{}", prefix, p.name);
  t.exchange_type = p.exchange_type;
  t.durable = p.persistent;
  if (p.mirrored) t.queue_arguments = {{"x-ha-policy", amqp::field_value{std::string("all")}}};
  for (int q = 0; q < p.queues; ++q) {
    t.queues.push_back(fmt::format("{}.{}.{}", prefix, p.name, q));
    for (int b = 0; b < p.bindings; ++b) t.bindings.push_back(binding_of(p, t.queues.back(), b));
  }
  t.routing_key = p.exchange_type == "topic" ? "probe.0.message" : "probe";
  if (p.exchange_type == "headers") t.properties.headers = {{"probe", amqp::field_value{std::string("0")}}};
  if (p.persistent) t.properties.delivery_mode = 2;
  t.body.assign(p.bytes, 'm');
  return t;
}

namespace {

/// Adds the meter's rows to the per-node and per-process sums, then clears it.
void collect(amqp::broker& b, work_counts& node, std::map<std::uint64_t, work_counts>& processes) {
  for (const auto& row : b.meter().rows()) {
    for (std::size_t k = 0; k < broker::work_kinds; ++k) {
      node[k] += row.count[k];
      if (row.site.process != 0) processes[row.site.process][k] += row.count[k];
    }
  }
  b.meter().clear();
}

}  // namespace

probe_work metered_work(const amqp_probe& p, std::uint32_t nodes) {
  const probe_topology t = topology_of(p, "probe");
  amqp::broker b(amqp::cluster_config{.nodes = std::max(nodes, p.cluster_nodes())});
  const broker::instant now{};
  const auto on = [&](std::uint32_t node) { return *b.open_connection("/", now, broker::node_id{node}); };
  const amqp::channel_ref admin{on(0), 1}, publisher{on(p.publisher_node), 1}, consumer{on(p.consumer_node), 1};
  for (const auto& ch : {admin, publisher, consumer}) (void)b.channel_open(ch);
  (void)b.exchange_declare(admin, {.name = t.exchange, .type = t.exchange_type, .durable = t.durable});
  for (const auto& q : t.queues) (void)b.queue_declare(admin, {.name = q, .durable = t.durable, .arguments = t.queue_arguments}, now);
  for (const auto& bd : t.bindings) (void)b.queue_bind(admin, bd.queue, t.exchange, bd.routing_key, bd.arguments);
  if (p.confirms) (void)b.confirm_select(publisher);
  const auto properties = std::make_shared<const amqp::basic_properties>(t.properties);
  for (std::uint32_t i = 0; i < p.backlog; ++i) (void)b.basic_publish(publisher, t.exchange, t.routing_key, false, properties, t.body, now);
  if (p.acks) (void)b.basic_qos(consumer, probe_prefetch, false, now);
  for (const auto& q : t.queues) (void)b.basic_consume(consumer, {.queue = q, .no_ack = !p.acks}, now);
  b.meter().enable(true);
  // Deliveries not yet acknowledged, oldest first: behind a backlog the consumer acknowledges
  // one a message, each freeing room for the next waiting message; acking several at once, it
  // settles them with one multiple ack; otherwise it acks each as it comes.
  std::deque<amqp::delivery> unacked;
  const auto take_deliveries = [&] {
    for (auto& e : b.take_events()) {
      if (auto* d = std::get_if<amqp::delivery>(&e); d && p.acks) unacked.push_back(std::move(*d));
    }
  };
  take_deliveries();
  b.meter().clear();

  // The counts are per message: several smooth out a first-message effect, and a multiple ack's
  // frame is shared by the messages it settles.
  const int messages = std::max(16, static_cast<int>(p.ack_every));
  work_counts node{};
  std::map<std::uint64_t, work_counts> processes;
  std::uint64_t publishing_channel = 0;
  for (int i = 0; i < messages; ++i) {
    (void)b.basic_publish(publisher, t.exchange, t.routing_key, false, properties, t.body, now);
    if (!b.meter().rows().empty()) publishing_channel = b.meter().rows().front().site.process;  // the caller's, first
    collect(b, node, processes);
    take_deliveries();
    if (p.ack_every > 1) {
      if (unacked.size() >= p.ack_every) {
        (void)b.basic_ack(unacked.back().to, unacked.back().delivery_tag, true, now);
        unacked.clear();
      }
    } else {
      for (std::size_t n = p.backlog > 0 ? 1 : unacked.size(); n > 0 && !unacked.empty(); --n) {
        (void)b.basic_ack(unacked.front().to, unacked.front().delivery_tag, false, now);
        unacked.pop_front();
      }
    }
    collect(b, node, processes);
  }
  if (p.one_at_a_time) {
    // Nothing else is on the publisher's socket when a message comes: one read takes it alone.
    // Other probes' publishers keep hundreds of messages unread, so their reads cost next to nothing.
    const auto read = static_cast<std::size_t>(work_kind::socket_read);
    node[read] += messages;
    processes[publishing_channel][read] += messages;
  }
  probe_work w;
  for (std::size_t k = 0; k < broker::work_kinds; ++k) w.node[k] = node[k] / messages;
  for (auto& [id, counts] : processes) {
    for (double& c : counts) c /= messages;
    w.processes.push_back(counts);
  }
  return w;
}

namespace {

/// The work rows of one call of an embedded Kafka core, summed into one site.
struct kafka_rows {
  work_counts node{}, partition{};  // the broker's shared CPU; the partition's log
};

kafka_rows take_rows(broker::work_meter& meter) {
  kafka_rows out;
  // Memory growth is not fitted: the broker's was measured (its resident bytes) and taken out
  // of its CPU time at the machine's measured cost per byte.
  constexpr auto grown = static_cast<std::size_t>(broker::work_kind::memory_grown);
  for (const auto& row : meter.rows()) {
    auto& to = row.site.process == 0 ? out.node : out.partition;
    for (std::size_t k = 0; k < broker::work_kinds; ++k) to[k] += k == grown ? 0 : row.count[k];
  }
  meter.clear();
  return out;
}

/// Work per record of the probe's produce requests (with the followers' fetches of each batch)
/// and of its consumer's fetches, at the measured batching: what the core charges per call is
/// told apart from what it charges per record by metering calls for one and for two records.
kafka_rows kafka_record_work(const kafka_probe& p, const kafka_batching& b) {
  namespace kafka = broker::kafka;
  const int rf = std::max(p.replication_factor, 1);
  kafka::cluster core(rf);
  core.set_follower_fetching(rf > 1);
  (void)core.create_topic("probe", {.partitions = 1, .replication_factor = rf});
  core.meter().enable(true);
  const auto a = static_cast<kafka::acks>(p.acks);
  const std::string value(p.bytes, 'r');
  const std::int32_t leader = core.partition("probe", 0).leader;
  auto batch = [&](int n) {
    std::vector<kafka::record> records(static_cast<std::size_t>(n));
    for (auto& r : records) r.value = value;
    (void)core.produce("probe", 0, std::move(records), a, 1);
    // In sync followers fetch each batch as it comes (their fetches wait at the leader).
    for (std::int32_t f = 0; f < rf; ++f) {
      if (f == leader) continue;
      if (auto copied = core.follower_fetch("probe", 0, f, SIZE_MAX, 1)) core.follower_append("probe", 0, f, *copied, 1);
    }
    return take_rows(core.meter());
  };
  auto fetch = [&](std::int64_t offset, int n) {
    (void)core.fetch_visit("probe", 0, offset, static_cast<std::size_t>(n), [](const kafka::record&) {});
    return take_rows(core.meter());
  };
  const kafka_rows one = batch(1), two = batch(2), fetch_one = fetch(0, 1), fetch_two = fetch(1, 2);
  // A call for one record and one for two: what each record adds, and the call's own share
  // when `per_call` records share it.
  const auto per_record = [](double one, double two, double per_call) {
    const double each = two - one;
    return each + (one - each) / per_call;
  };
  auto spread = [&](const work_counts& c1, const work_counts& c2, const work_counts& f1, const work_counts& f2) {
    work_counts out{};
    for (std::size_t k = 0; k < broker::work_kinds; ++k) {
      out[k] = per_record(c1[k], c2[k], b.records_per_batch) +
               (p.consumer ? per_record(f1[k], f2[k], b.records_per_fetch) : 0);
    }
    return out;
  };
  return {spread(one.node, two.node, fetch_one.node, fetch_two.node),
          spread(one.partition, two.partition, fetch_one.partition, fetch_two.partition)};
}

}  // namespace

probe_work metered_work(const kafka_probe& p, const kafka_batching& b) {
  const kafka_rows r = kafka_record_work(p, b);
  probe_work w;
  // Records spread evenly over the partitions, each partition's log a process of its own.
  work_counts share{};
  for (std::size_t k = 0; k < broker::work_kinds; ++k) {
    w.node[k] = r.node[k] + r.partition[k];
    share[k] = r.partition[k] / p.partitions;
  }
  w.processes.assign(static_cast<std::size_t>(p.partitions), share);
  // Socket reads, which the core does not charge: a request alone on its connection is read
  // alone (each consumer fetch, each follower's fetch and its answer, each produce request when
  // one is in flight); pipelined produce requests come many to a read (none counted).
  const double rf = std::max(p.replication_factor, 1);
  w.node[static_cast<std::size_t>(work_kind::socket_read)] +=
      ((p.one_at_a_time > 0 ? 1 : 0) + 2 * (rf - 1)) / b.records_per_batch + (p.consumer ? 1 / b.records_per_fetch : 0);
  return w;
}

namespace {

double price(const work_counts& counts, const models::cost_table& costs) {
  double ns = 0;
  for (std::size_t k = 0; k < broker::work_kinds; ++k) ns += counts[k] * costs.ns[k];
  return ns;
}

/// The node's share per core and each process: the resources a message of the probe uses.
std::vector<work_counts> resources(const probe_work& w, double cores) {
  std::vector<work_counts> r{w.node};
  for (double& c : r.front()) c /= cores;
  r.insert(r.end(), w.processes.begin(), w.processes.end());
  return r;
}

/// The counts that bound a probe's rate under `costs`: its busiest resource's.
work_counts bottleneck(const probe_work& w, const models::cost_table& costs, double cores) {
  const auto all = resources(w, cores);
  return *std::ranges::max_element(all, {}, [&](const work_counts& r) { return price(r, costs); });
}

/// The q-norm of the resources' times, in ns: the maximum as q grows. Taken relative to the
/// largest time, whose q-th power overflows a double (700 us is 7e5 ns, and 7e5^64 is 1e374).
double smooth_ns(const probe_work& w, const models::cost_table& costs, double cores, double q) {
  const auto all = resources(w, cores);
  std::vector<double> times(all.size());
  std::ranges::transform(all, times.begin(), [&](const work_counts& r) { return price(r, costs); });
  const double top = std::ranges::max(times);
  if (!(top > 0)) return 0;
  double sum = 0;
  for (double t : times) sum += std::pow(t / top, q);
  return top * std::pow(sum, 1 / q);
}

/// The counts whose price is smooth_ns at `costs`: each resource's weighted by (t/T)^(q-1).
work_counts smooth_counts(const probe_work& w, const models::cost_table& costs, double cores, double q) {
  const double total = smooth_ns(w, costs, cores, q);
  work_counts mixed{};
  if (total <= 0) return w.node;
  for (const auto& r : resources(w, cores)) {
    const double weight = std::pow(price(r, costs) / total, q - 1);
    for (std::size_t k = 0; k < broker::work_kinds; ++k) mixed[k] += weight * r[k];
  }
  return mixed;
}

}  // namespace

double bottleneck_ns(const probe_work& w, const models::cost_table& costs, double cores) {
  return price(bottleneck(w, costs, cores), costs);
}

double predicted_rate(const probe_work& w, const models::cost_table& costs, double cores) {
  const double ns = bottleneck_ns(w, costs, cores);
  return ns > 0 ? 1e9 / ns : 0;
}

std::expected<fitted_costs, std::string> fit_costs(std::span<const probe_work> work, std::span<const double> rates,
                                                    std::span<const double> cores, const models::cost_table& prior) {
  if (work.size() != rates.size() || work.size() != cores.size() || work.empty()) {
    return std::unexpected("one measured rate and one number of cores per probe are needed");
  }
  for (double c : cores) {
    if (!(c > 0)) return std::unexpected(fmt::format("a probe's broker had {} cores", c));
  }
  fitted_costs fit;
  for (const auto& w : work) {
    for (std::size_t k = 0; k < broker::work_kinds; ++k) fit.measured[k] = fit.measured[k] || w.node[k] > 0;
  }
  double log_ratio = 0;
  for (std::size_t p = 0; p < work.size(); ++p) {
    const double prior_ns = bottleneck_ns(work[p], prior, cores[p]);
    if (!(rates[p] > 0) || !(prior_ns > 0)) return std::unexpected(fmt::format("probe {} has no rate to fit", p + 1));
    log_ratio += std::log(1e9 / rates[p] / prior_ns);
  }
  fit.prior_scale = std::exp(log_ratio / static_cast<double>(work.size()));
  // The unknowns are each measured kind's cost as a multiple of its scaled prior, so that every
  // column is of order one whatever its unit. A kind the prior does not price (a socket read in
  // a profile of the broker's work alone) is reckoned in scaled microseconds and not pulled.
  std::vector<std::size_t> kinds;
  models::cost_table base;
  constexpr double unpriced_unit_ns = 1000;
  constexpr double pull = 0.001;  // weak enough that a cost 20 times its prior still fits its probe
  for (std::size_t k = 0; k < broker::work_kinds; ++k) {
    base.ns[k] = fit.prior_scale * (prior.ns[k] > 0 ? prior.ns[k] : unpriced_unit_ns);
    fit.costs.ns[k] = fit.prior_scale * prior.ns[k];
    if (fit.measured[k]) kinds.push_back(k);
  }
  const auto pulled = [&](std::size_t k) { return prior.ns[k] > 0 ? pull : 0.0; };
  // A probe's time is the maximum over its resources, which gives a fit no way out of a wrong
  // guess about which resource binds. So it is smoothed into the q-norm over resources, and q
  // grows round by round (2 to 64) towards the maximum. Each round solves the linear problem
  // around the current costs (a q-norm is homogeneous: its rows are the resources' counts
  // weighted by (t/T)^(q-1)) and steps towards that solution while the smoothed misfit falls.
  constexpr int rounds_per_q = 15, max_halvings = 12;
  for (double q = 2; q <= 64; q *= 2) {
    auto misfit = [&](const models::cost_table& c) {
      double sum = 0;
      for (std::size_t p = 0; p < work.size(); ++p) sum += std::pow(smooth_ns(work[p], c, cores[p], q) * rates[p] / 1e9 - 1, 2);
      for (std::size_t k : kinds) sum += std::pow(pulled(k) * (c.ns[k] / base.ns[k] - 1), 2);
      return sum;
    };
    for (int round = 0; round < rounds_per_q; ++round) {
      matrix a;
      std::vector<double> b;
      for (std::size_t p = 0; p < work.size(); ++p) {
        const work_counts mixed = smooth_counts(work[p], fit.costs, cores[p], q);
        std::vector<double> row;
        for (std::size_t k : kinds) row.push_back(mixed[k] * base.ns[k] * rates[p] / 1e9);
        a.push_back(std::move(row));
        b.push_back(1);
      }
      for (std::size_t j = 0; j < kinds.size(); ++j) {
        std::vector<double> row(kinds.size(), 0);
        row[j] = pulled(kinds[j]);
        a.push_back(std::move(row));
        b.push_back(pulled(kinds[j]));
      }
      auto x = nonnegative_least_squares(a, b);
      if (!x) return std::unexpected(x.error());
      models::cost_table target = fit.costs;
      for (std::size_t j = 0; j < kinds.size(); ++j) target.ns[kinds[j]] = (*x)[j] * base.ns[kinds[j]];
      const double before = misfit(fit.costs);
      bool moved = false;
      for (int h = 0; h < max_halvings && !moved; ++h) {
        if (misfit(target) < before * (1 - 1e-9)) {
          fit.costs = target;
          moved = true;
        }
        for (std::size_t k : kinds) target.ns[k] = (target.ns[k] + fit.costs.ns[k]) / 2;
      }
      if (!moved) break;
    }
  }
  return fit;
}

}  // namespace mqlab::workbench
