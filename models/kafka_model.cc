// Records carry their creation time, whether they count, their key and their per-key
// sequence number in the value, so consumers can measure latency, duplicates and order.
#include "models/kafka_model.h"

#include <fmt/format.h>

#include "models/payload.h"

namespace mqlab::models {
namespace {

namespace kafka = broker::kafka;

kafka::assignor_kind assignor_of(const std::string& name) {
  if (name == "roundrobin") return kafka::assignor_kind::round_robin;
  if (name == "cooperative-sticky") return kafka::assignor_kind::cooperative_sticky;
  return kafka::assignor_kind::range;
}

}  // namespace

kafka_model::kafka_model(sim::simulator& sim, const kafka_spec& spec, const cost_model& costs,
                         const sim::random_streams& streams, cpu_pool* host)
    : sim_(sim),
      spec_(spec),
      cluster_(std::max(spec.brokers, 1), spec.replica_lag_time_max.ns() / 1'000'000),
      key_rng_(streams.stream("kafka-keys")) {
  create_topics(cluster_, spec, 0);
  if (!costs.ideal && enabled()) {
    resources_.emplace(sim, costs, costs.kafka, static_cast<std::uint32_t>(spec.brokers), streams, "kafka", host,
                       spec.process_cores);
    cluster_.meter().enable(true);
    cluster_.set_follower_fetching(true);
    in_flight_.assign(static_cast<std::size_t>(spec.brokers), 0);
  }
  for (const auto& g : spec.groups) {
    for (int i = 0; i < g.count; ++i) {
      kafka::consumer_config cfg;
      cfg.group = g.group;
      cfg.assignor = assignor_of(g.assignor);
      cfg.session_timeout_ms = g.session_timeout.ns() / 1'000'000;
      cfg.max_poll_records = g.max_poll_records;
      cfg.auto_commit = g.commit == commit_mode::auto_interval;
      cfg.auto_commit_interval_ms = g.auto_commit_interval.ns() / 1'000'000;
      cfg.reset = kafka::offset_reset::earliest;
      member mem{.group = &g,
                 .client = std::make_unique<kafka::consumer>(cluster_, std::vector<std::string>{g.topic}, cfg),
                 .service_rng = streams.stream(fmt::format("kafka-{}-{}", g.group, i))};
      members_.push_back(std::move(mem));
    }
  }
}

void kafka_model::start() {
  if (!enabled()) return;
  controller_ = cluster_.controller();
  if (resources_) start_priced();
  else sim_.after(spec_.replication_interval, [this] { tick(); });
  for (std::size_t m = 0; m < members_.size(); ++m) {
    sim_.after(sim::duration{}, [this, m] { poll(m); });
    sim_.after(members_[m].group->heartbeat_interval, [this, m] { heartbeat(m); });
  }
}

void kafka_model::heartbeat(std::size_t m) {
  // Background heartbeats keep a busy consumer in its group (the Java client's heartbeat thread).
  if (!members_[m].alive) return;
  (void)members_[m].client->heartbeat(now_ms());
  sim_.after(members_[m].group->heartbeat_interval, [this, m] { heartbeat(m); });
}

void kafka_model::tick() {
  cluster_.replicate(now_ms());
  cluster_.groups().advance(now_ms());
  sim_.after(spec_.replication_interval, [this] { tick(); });
}

kafka::record kafka_model::make_record(const produce_step& step, sim::sim_time created, bool measured) {
  const std::int32_t key = step.keys > 0 ? static_cast<std::int32_t>(key_rng_.below(static_cast<std::uint64_t>(step.keys))) : -1;
  if (key >= static_cast<std::int32_t>(key_names_.size())) {
    for (auto k = static_cast<std::int32_t>(key_names_.size()); k <= key; ++k) key_names_.emplace_back(fmt::format("key-{}", k));
    next_sequence_.resize(key_names_.size(), 0);
  }
  const auto sequence = key >= 0 ? next_sequence_[static_cast<std::size_t>(key)]++ : 0;
  const record_stamp stamp{created.ns(), key, sequence, static_cast<std::uint8_t>(measured)};
  const std::size_t bytes = std::max<std::size_t>(step.record_bytes, sizeof stamp);
  return kafka::record{0, now_ms(), key >= 0 && step.keyed ? key_names_[static_cast<std::size_t>(key)] : kafka::shared_bytes(),
                       values_.filled(bytes, [&](char* out) { write_payload(stamp, out, bytes); }), {}};
}

std::int32_t kafka_model::partition_of(const produce_step& step, const kafka::record& r) {
  const std::int32_t partitions = std::max(cluster_.partitions(step.topic), 1);
  return r.key ? kafka::partition_for_key(*r.key, partitions) : (round_robin_++ % partitions);
}

void kafka_model::produce(const produce_step& step, sim::sim_time created, bool measured, done_fn answered) {
  kafka::record r = make_record(step, created, measured);
  produced_ += measured;
  if (resources_) {
    // The producer's send call at the record's scheduled time (librdkafka's producev): its
    // half of a record's client CPU, and a wake-up when its thread was asleep. The batch's
    // request is priced when it leaves.
    resources_->client_work(0, resources_->kafka_record_share());
    add_record(step, std::move(r), measured, std::move(answered));
    return;
  }
  const std::int32_t p = partition_of(step, r);
  const auto result = cluster_.produce(step.topic, p, std::move(r), static_cast<kafka::acks>(step.acks), now_ms());
  if (result.error == kafka::error_code::none) acked_ += measured && step.acks != 0;
  else failed_ += measured;
  answered();
}

void kafka_model::poll(std::size_t m) {
  if (!members_[m].alive) return;
  if (!resources_) {
    consumer_fetch(m);
    return;
  }
  resources_->client_request(1 + static_cast<int>(m), fetch_node(m), 64, [this, m] { consumer_fetch(m); }, sim::duration{});
}

void kafka_model::commit_request(std::size_t m, done_fn answered) {
  // The coordinator is a broker per group, in turn; a commit's work is a command taken in.
  const int client = 1 + static_cast<int>(m);
  const auto group = static_cast<std::size_t>(members_[m].group - spec_.groups.data());
  const broker::node_id node = node_of(static_cast<std::int32_t>(group % static_cast<std::size_t>(spec_.brokers)));
  resources_->client_request(client, node, 64, [this, client, node, answered = std::move(answered)]() mutable {
    broker::work_row command{{node, 0}, {}};
    command.count[static_cast<std::size_t>(broker::work_kind::frame)] = 1;
    resources_->charge({&command, 1}, node, [this, client, node, answered = std::move(answered)]() mutable {
      resources_->client_send(client, false, node, 64, std::move(answered), {}, resources_->kafka_client_work(0));
    }, {});
  }, sim::duration{});
}

void kafka_model::consumer_fetch(std::size_t m) {
  member& me = members_[m];
  if (!me.alive) return;
  std::uint64_t bytes = 64;
  auto got = me.client->poll(now_ms(), [&](const kafka::topic_partition& tp, const kafka::record& r) {
    me.buffer.push_back({decode_payload<record_stamp>(*r.value), tp.partition, r.offset});
    bytes += r.size_bytes();
  });
  const std::size_t n = got ? *got : 0;
  if (!resources_) {
    polled(m, n);
    return;
  }
  // The fetch is the leaders' work; its records cross the links back to the consumer, or it
  // waits there until some pass the high watermark (wake_consumers) or fetch.max.wait.ms.
  const auto node = fetch_node(m);
  const bool waits = n == 0 && got && me.client->in_group();
  resources_->charge(cluster_.meter().rows(), node,
                     waits ? done_fn{} : done_fn{[this, m, node, n, bytes] { answer_fetch(m, node, n, bytes); }}, {});
  cluster_.meter().clear();
  if (!waits) return;
  me.parked = true;
  me.park_timeout = sim_.after(sim::duration::milliseconds(me.client->fetch_max_wait_ms()), [this, m] {
    members_[m].parked = false;
    answer_fetch(m, fetch_node(m), 0, 64);
  });
}

void kafka_model::answer_fetch(std::size_t m, broker::node_id node, std::size_t n, std::uint64_t bytes) {
  resources_->client_send(1 + static_cast<int>(m), false, node, bytes, [this, m, n] { polled(m, n); }, {},
                          resources_->kafka_client_work(n));
}

void kafka_model::wake_consumers() {
  for (std::size_t m = 0; m < members_.size(); ++m) {
    member& me = members_[m];
    if (!me.parked || !me.alive || !me.client->fetch_ready()) continue;
    me.parked = false;
    sim_.cancel(me.park_timeout);
    consumer_fetch(m);
  }
}

void kafka_model::polled(std::size_t m, std::size_t got) {
  member& mem = members_[m];
  if (!mem.alive) return;
  if (got == 0) {
    // Priced, an empty answer is a long poll that timed out: the consumer asks again at once.
    if (resources_) poll(m);
    else sim_.after(mem.group->poll_interval, [this, m] { poll(m); });
    return;
  }
  mem.delivered += got;
  polled_ += got;
  if (mem.group->commit == commit_mode::before_processing) (void)mem.client->commit(now_ms());
  work(m);
}

void kafka_model::work(std::size_t m) {
  member& mem = members_[m];
  if (!mem.alive) return;
  if (mem.buffer.empty() && mem.working == 0) {
    if (mem.group->commit == commit_mode::poll) {
      (void)mem.client->commit(now_ms());  // commitSync after the batch
      if (resources_) {
        commit_request(m, [this, m] { poll(m); });
        return;
      }
    }
    poll(m);
    return;
  }
  while (!mem.buffer.empty() && mem.working < mem.group->threads) {
    ++mem.working;
    const std::uint64_t seq = mem.first_in_hand + mem.in_hand.size();
    mem.in_hand.emplace_back(mem.buffer.front(), false);
    mem.buffer.pop_front();
    const auto service = sim::duration::from_seconds(mem.group->service.sample(mem.service_rng));
    sim_.after(service, [this, m, seq] {
      member& me = members_[m];
      if (!me.alive) return;
      --me.working;
      auto& [r, done] = me.in_hand[seq - me.first_in_hand];
      done = true;
      finished(m, r);
      while (!me.in_hand.empty() && me.in_hand.front().second) {
        me.in_hand.pop_front();
        ++me.first_in_hand;
      }
      work(m);
    });
  }
}

void kafka_model::finished(std::size_t m, const member::polled_record& r) {
  member& me = members_[m];
  if (me.ledger == nullptr) me.ledger = &ledgers_.of(me.group->group);  // not before: a group that never finishes has none
  me.ledger->finish(r.stamp, sim_.now().ns());
  const commit_mode mode = me.group->commit;
  if (mode != commit_mode::record && mode != commit_mode::before_processing) return;
  const kafka::topic_partition tp{me.group->topic, r.partition};
  mark_finished(done_[me.group->group][tp], r.offset);
  // Committing offset N says everything before N is done, whether it is or not.
  if (mode == commit_mode::record) (void)me.client->commit(tp, r.offset + 1);
}

std::uint64_t kafka_model::skipped(const kafka_group_spec& g) const {
  const auto* group = cluster_.groups().find(g.group);
  if (group == nullptr) return 0;  // never committed: nothing was skipped
  const auto finished = done_.find(g.group);
  auto settled = finished != done_.end() ? finished->second : std::map<kafka::topic_partition, std::vector<bool>>{};
  // What a live member still holds is work the run's end cut short, not a skipped record.
  for (const auto& m : members_) {
    if (!m.alive || m.group->group != g.group) continue;
    for (const auto& r : m.buffer) mark_finished(settled[{g.topic, r.partition}], r.offset);
    for (const auto& [r, done] : m.in_hand) mark_finished(settled[{g.topic, r.partition}], r.offset);
  }
  std::uint64_t skipped = 0;
  for (const auto& [tp, committed] : group->offsets()) {
    const auto d = settled.find(tp);
    skipped += unfinished_below(d != settled.end() ? &d->second : nullptr, committed);
  }
  return skipped;
}

void kafka_model::start_measuring() {
  polled_at_warmup_ = polled_;
  measured_from_ = sim_.now();
  if (resources_) resources_->start_measuring();
  lost_at_warmup_ = cluster_.lost_records();
  vanished_at_warmup_ = cluster_.vanished_records();
  bytes_at_warmup_ = cluster_.inter_broker_bytes();
}

bool kafka_model::crash(const std::string& target) {
  const auto b = broker_index(target, spec_.brokers);
  if (b < 0) return false;
  cluster_.crash_broker(b, now_ms());
  if (resources_) fail_acks_of(b);
  note_controller();
  return true;
}

void kafka_model::note_controller() {
  // The controller is the broker holding /controller in the coordination store: when it dies
  // its ZooKeeper session ends and another broker takes the node.
  const std::int32_t now = cluster_.controller();
  if (now != controller_) ++controller_changes_;
  controller_ = now;
}

bool kafka_model::restart(const std::string& target) {
  const auto b = broker_index(target, spec_.brokers);
  if (b < 0) return false;
  cluster_.restart_broker(b, now_ms());
  note_controller();
  return true;
}

bool kafka_model::kill(const std::string& group, int index) {
  int seen = 0;
  for (auto& m : members_) {
    if (m.group->group == group && seen++ == index) {
      m.alive = false;  // no leave: the coordinator finds out when the session expires
      m.buffer.clear();
      m.in_hand.clear();
      return true;
    }
  }
  return false;
}

std::int64_t kafka_model::lag() const {
  std::int64_t total = 0;
  for (const auto& m : members_) {
    if (m.alive) total += m.client->total_lag() + static_cast<std::int64_t>(m.buffer.size());
  }
  return total;
}

void kafka_model::collect(std::map<std::string, double>& v, sim::histogram& e2e) {
  if (!enabled()) return;
  v["kafka.produced"] = static_cast<double>(produced_);
  v["kafka.acked"] = static_cast<double>(acked_);
  v["kafka.failed"] = static_cast<double>(failed_);
  // Records handed to consumers per second of the window, whenever they were produced.
  v["kafka.delivered_rate"] = static_cast<double>(polled_ - polled_at_warmup_) / std::max(1e-9, (sim_.now() - measured_from_).seconds());
  if (resources_) {
    for (std::int32_t b = 0; b < spec_.brokers; ++b) v[fmt::format("broker.{}.cpu", b)] = resources_->utilization(node_of(b));
    v["servers.cpu"] += resources_->busy_cores();
    if (auto busy = resources_->client_utilization()) v["kafka.clients.cpu"] = *busy;
  }
  v["kafka.controller"] = cluster_.controller();
  v["kafka.controller_changes"] = static_cast<double>(controller_changes_);
  v["kafka.lost"] = static_cast<double>(cluster_.lost_records() - lost_at_warmup_);
  v["kafka.vanished"] = static_cast<double>(cluster_.vanished_records() - vanished_at_warmup_);
  ledgers_.collect(v, e2e);
  v["inter_node.bytes"] += static_cast<double>(cluster_.inter_broker_bytes() - bytes_at_warmup_);
  double idle = 0;
  std::map<std::string, int> index;  // position of each member within its group
  for (const auto& m : members_) {
    v["consumer." + m.group->group + ".delivered"] += static_cast<double>(m.delivered);
    v[fmt::format("consumer.{}.{}.delivered", m.group->group, index[m.group->group]++)] = static_cast<double>(m.delivered);
    idle += m.alive && m.client->assignment().empty();
  }
  v["idle_consumers"] += idle;
  for (const auto& g : spec_.groups) {
    if (g.commit == commit_mode::record || g.commit == commit_mode::before_processing) {
      v[fmt::format("kafka.{}.skipped", g.group)] = static_cast<double>(skipped(g));
    }
  }
  v["kafka.lag"] = static_cast<double>(lag());
}

}  // namespace mqlab::models
