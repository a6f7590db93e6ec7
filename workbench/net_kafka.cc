// The real Kafka side: an in-process Kafka server thread, librdkafka producers fed from the
// paced simulation thread, and one thread per consumer (with `threads` - 1 helpers during a poll).
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include "workbench/net_kafka.h"

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "broker/kafka/cluster.h"
#include "broker/kafka/consumer_group.h"
#include "models/kafka_model.h"
#include "models/measured_cpu.h"
#include "models/payload.h"
#include "models/record_ledger.h"
#include "net/kafka/server.h"
#include "net/log.h"
#include "net/loop_thread.h"

namespace mqlab::workbench {
namespace {

using clock = std::chrono::steady_clock;
namespace kafka = broker::kafka;

std::int64_t to_ms(sim::duration d) { return d.ns() / 1'000'000; }

// The server's clock: wall-clock milliseconds, as Kafka's record timestamps and sessions are.
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// librdkafka configuration; a refused property is a programming error here, not user input.
rd_kafka_conf_t* client_conf(const std::string& bootstrap, std::initializer_list<std::pair<const char*, std::string>> props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[256];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      throw std::logic_error(fmt::format("librdkafka {}={}: {}", k, v, err));
    }
  }
  // Brokers are killed on purpose: the clients' connection errors go to the debug log only.
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char* facility, const char* text) {
    net::log(net::log_level::debug, "librdkafka {}: {}", facility, text);
  });
  return conf;
}

/// The cluster behind its listeners, on a thread of its own; everything touching the core runs there.
class server_thread : public net::loop_thread {
 public:
  server_thread(const models::kafka_spec& spec, net::kafka::listen_options::replication followers)
      : core_(std::max(spec.brokers, 1), to_ms(spec.replica_lag_time_max)),
        service_(core_, options(spec)),
        server_(io(), service_, net::kafka::listen_options{"127.0.0.1", 0, std::max(spec.brokers, 1), followers}) {
    models::create_topics(core_, spec, wall_ms());
    if (auto ok = server_.start(); !ok) throw std::runtime_error("net mode: Kafka server: " + ok.error());
    start();
  }
  ~server_thread() { stop(); }

  std::string bootstrap() const {
    std::string out;
    for (auto port : server_.ports()) out += fmt::format("{}127.0.0.1:{}", out.empty() ? "" : ",", port);
    return out;
  }

  kafka::cluster& core() { return core_; }
  net::kafka::service& service() { return service_; }
  net::kafka::server& server() { return server_; }

  void stop() {
    net::loop_thread::stop([this] { server_.stop(); });
  }

 private:
  static net::kafka::service_options options(const models::kafka_spec& spec) {
    net::kafka::service_options o;
    o.replica_fetch_interval_ms = std::max<std::int64_t>(1, to_ms(spec.replication_interval));
    o.replica_fetch_wait_max_ms = to_ms(spec.replica_fetch_wait_max);
    o.auto_create_topics = false;
    return o;
  }
  kafka::cluster core_;
  net::kafka::service service_;
  net::kafka::server server_;
};

class net_kafka final : public models::kafka_side {
 public:
  /// `rounds`: followers copy on the scenario's replication_interval, as the simulation does
  /// under `profile: ideal`; otherwise they fetch continuously, as Kafka's and the priced
  /// simulation's do.
  /// `produces`: the scenario's produce steps, whose producers start() readies.
  net_kafka(sim::simulator& sim, const models::kafka_spec& spec, bool rounds, const sim::random_streams& streams,
            std::vector<models::produce_step> produces)
      : sim_(sim), spec_(spec), rounds_(rounds), key_rng_(streams.stream("kafka-keys")), produces_(std::move(produces)) {
    using replication = net::kafka::listen_options::replication;
    server_ = std::make_unique<server_thread>(spec, rounds ? replication::rounds : replication::fetching);
    for (const auto& g : spec.groups) {
      for (int i = 0; i < g.count; ++i) {
        members_.push_back(std::make_unique<member>(&g, i, streams.stream(fmt::format("kafka-{}-{}", g.group, i))));
      }
    }
  }
  ~net_kafka() override { shut_down(); }

  bool enabled() const override { return true; }

  void start() override {
    assignments_read_ = std::make_unique<std::latch>(static_cast<std::ptrdiff_t>(members_.size()));
    for (auto& m : members_) m->thread = std::jthread([this, m = m.get()] { consume(*m); });
    ready_producers();
    wait_for_groups();
    start_ns_.store(clock::now().time_since_epoch().count(), std::memory_order_release);
    if (rounds_) sim_.after(spec_.replication_interval, [this] { fetch_round(); });
  }

  void produce(const models::produce_step& step, sim::sim_time created, bool measured, models::done_fn answered) override {
    const std::int32_t key = step.keys > 0 ? static_cast<std::int32_t>(key_rng_.below(static_cast<std::uint64_t>(step.keys))) : -1;
    const auto sequence = static_cast<std::uint32_t>(key >= 0 ? next_sequence_[key]++ : 0);
    const std::string value = models::encode_payload(
        models::record_stamp{created.ns(), key, sequence, static_cast<std::uint8_t>(measured)}, step.record_bytes);
    const std::string key_text = fmt::format("key-{}", key);
    const bool keyed = key >= 0 && step.keyed;
    // Keyless records go round-robin, as in the simulation, so the order lesson is the same.
    const std::int32_t partition = keyed ? RD_KAFKA_PARTITION_UA : round_robin_++ % std::max(partitions_of(step.topic), 1);
    const void* key_ptr = keyed ? key_text.data() : nullptr;
    const rd_kafka_resp_err_t e = rd_kafka_producev(
        producer(step), RD_KAFKA_V_TOPIC(step.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key_ptr, keyed ? key_text.size() : 0), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(next_report_)),
        RD_KAFKA_V_END);
    produced_ += measured;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failed_ += measured;
      answered();
      return;
    }
    // The send is done at the delivery report: written (acks=0), the leader's append (acks=1),
    // the in-sync replicas' (acks=all), or a failure.
    unreported_.emplace(next_report_++, unreported{measured, step.acks != 0, std::move(answered)});
  }

  void start_measuring() override {
    at_warmup_ = server_->call([this] { return counters(); });
    cpu_.start({server_->cpu_seconds()});
    measured_from_ = clock::now();
    delivered_at_warmup_ = delivered();
  }

  bool crash(const std::string& target) override {
    const auto b = models::broker_index(target, spec_.brokers);
    if (b < 0) return false;
    (void)server_->call([this, b] { return server_->server().kill(b); });
    return true;
  }

  bool restart(const std::string& target) override {
    const auto b = models::broker_index(target, spec_.brokers);
    if (b < 0) return false;
    (void)server_->call([this, b] { return server_->server().restart(b); });
    return true;
  }

  bool kill(const std::string& group, int index) override {
    for (auto& m : members_) {
      if (m->group->group == group && m->index == index) {
        m->killed = true;  // its thread leaves without a LeaveGroup: the session has to expire
        return true;
      }
    }
    return false;
  }

  std::int64_t lag() const override {
    return server_->call([this] {
      std::int64_t total = 0;
      for (const auto& g : spec_.groups) {
        const auto* group = server_->service().group(g.group);
        for (std::int32_t p = 0; p < server_->core().partitions(g.topic); ++p) {
          const auto& ps = server_->core().partition(g.topic, p);
          const auto committed = group ? group->committed({g.topic, p}) : std::nullopt;
          total += std::max<std::int64_t>(0, ps.high_watermark - committed.value_or(0));
        }
      }
      return total;
    });
  }

  bool awaiting() const override { return !unreported_.empty(); }

  void pump() override {
    for (auto& [settings, p] : producers_) rd_kafka_poll(p, 0);
  }

  void collect(std::map<std::string, double>& v, sim::histogram& e2e) override {
    // Records handed to consumers per second of the window, whenever they were produced (the
    // simulation's kafka.delivered_rate), and the server's CPU: both before the producers' last flush.
    const double window = std::chrono::duration<double>(clock::now() - measured_from_).count();
    v["kafka.delivered_rate"] = static_cast<double>(delivered() - delivered_at_warmup_) / std::max(1e-9, window);
    v["servers.cpu"] += cpu_.cores(std::vector{server_->cpu_seconds()}).at(0);  // every broker's one thread
    stop_clients();
    const auto end = server_->call([this] { return counters(); });
    for (const auto& g : spec_.groups) {
      if (g.commit == models::commit_mode::record || g.commit == models::commit_mode::before_processing) {
        v[fmt::format("kafka.{}.skipped", g.group)] = static_cast<double>(skipped(g));
      }
    }
    shut_down();
    v["kafka.produced"] = static_cast<double>(produced_);
    v["kafka.acked"] = static_cast<double>(acked_);
    v["kafka.failed"] = static_cast<double>(failed_);
    v["kafka.lost"] = static_cast<double>(end.lost - at_warmup_.lost);
    v["kafka.vanished"] = static_cast<double>(end.vanished - at_warmup_.vanished);
    ledgers_.collect(v, e2e);
    v["inter_node.bytes"] += static_cast<double>(end.bytes - at_warmup_.bytes);
    double idle = 0;
    std::map<std::string, int> index;
    for (const auto& m : members_) {
      v["consumer." + m->group->group + ".delivered"] += static_cast<double>(m->delivered.load());
      v[fmt::format("consumer.{}.{}.delivered", m->group->group, index[m->group->group]++)] =
          static_cast<double>(m->delivered.load());
      idle += !m->killed && m->idle;
    }
    v["idle_consumers"] += idle;
    v["kafka.lag"] = static_cast<double>(final_lag_);
  }

 private:
  struct member {
    member(const models::kafka_group_spec* g, int i, sim::rng r) : group(g), index(i), rng(r) {}
    const models::kafka_group_spec* group;
    int index;
    sim::rng rng;
    std::atomic<bool> killed{false};
    std::atomic<std::uint64_t> delivered{0};
    bool idle = false;  // written by its thread before it ends
    std::jthread thread;
  };
  struct core_counters {
    std::uint64_t lost = 0, vanished = 0, bytes = 0;
  };

  // Under `profile: ideal` followers fetch on the scenario's schedule (replication_interval),
  // over TCP, as in the simulation's ticks: a fault lands at the same point between two rounds
  // in both modes.
  void fetch_round() {
    server_->post([this] { server_->server().fetch_round(); });
    sim_.after(spec_.replication_interval, [this] { fetch_round(); });
  }

  /// The scenario starts once every group has formed, as the simulation's are at time 0:
  /// librdkafka's consumers take about 2 s to join, and a producer started meanwhile would
  /// leave them a backlog that every short run would measure as latency. At most 30 s.
  void wait_for_groups() {
    const auto deadline = clock::now() + std::chrono::seconds(30);
    while (!server_->call([this] { return groups_formed(); })) {
      if (clock::now() > deadline) {
        net::log(net::log_level::warn, "net mode: the Kafka groups did not form within 30 s; starting anyway");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  /// Every producer the scenario uses is made, and knows its topic's leaders, before time 0: a
  /// producer's first records would otherwise wait for its connection and metadata (most of a
  /// second on a loaded machine), a start-up cost no scenario asks to measure.
  void ready_producers() {
    for (const auto& step : produces_) {
      rd_kafka_t* p = producer(step);
      rd_kafka_topic_t* topic = rd_kafka_topic_new(p, step.topic.c_str(), nullptr);
      const rd_kafka_metadata_t* md = nullptr;
      const rd_kafka_resp_err_t err = rd_kafka_metadata(p, 0, topic, &md, 10'000);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(md);
      else net::log(net::log_level::warn, "net mode: no metadata for topic {} within 10 s: {}", step.topic, rd_kafka_err2str(err));
      rd_kafka_topic_destroy(topic);
    }
  }

  /// Every group stable with all its members (on the server's thread).
  bool groups_formed() const {
    std::map<std::string, std::size_t> expected;
    for (const auto& g : spec_.groups) expected[g.group] += static_cast<std::size_t>(g.count);
    for (const auto& [name, count] : expected) {
      if (count == 0) continue;
      const auto* group = server_->service().group(name);
      if (!group || group->current_state() != kafka::consumer_group::state::stable || group->member_ids().size() != count) return false;
    }
    return true;
  }

  std::uint64_t delivered() const {
    std::uint64_t total = 0;
    for (const auto& m : members_) total += m->delivered.load();
    return total;
  }

  core_counters counters() const {
    const auto& c = server_->core();
    return {c.lost_records(), c.vanished_records(), c.inter_broker_bytes()};
  }

  std::int32_t partitions_of(const std::string& topic) const {
    for (const auto& t : spec_.topics) {
      if (t.name == topic) return t.partitions;
    }
    return 1;
  }

  /// A record librdkafka has not reported yet, known to its report by number.
  struct unreported {
    bool counts;        // measured
    bool acknowledged;  // with acks=0 librdkafka reports success once the record is written
    models::done_fn answered;
  };

  // Reports are served by rd_kafka_poll() in pump(), on the simulation's thread.
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<net_kafka*>(opaque);
    const auto it = self->unreported_.find(reinterpret_cast<std::uintptr_t>(m->_private));
    if (it == self->unreported_.end()) return;
    auto r = std::move(it->second);
    self->unreported_.erase(it);
    if (r.counts) {
      if (m->err) ++self->failed_;
      else if (r.acknowledged) ++self->acked_;
    }
    if (self->answering_) r.answered();
  }

  /// The producer of a step's settings (acks, linger.ms, batch.size), one per combination.
  rd_kafka_t* producer(const models::produce_step& step) {
    auto& p = producers_[{step.acks, step.linger.ns(), step.batch_size}];
    if (p) return p;
    rd_kafka_conf_t* conf = client_conf(server_->bootstrap(), {{"acks", std::to_string(step.acks)},
                                                               {"linger.ms", fmt::format("{}", step.linger.seconds() * 1e3)},
                                                               {"batch.size", std::to_string(step.batch_size)},
                                                               {"partitioner", "murmur2_random"},
                                                               {"message.timeout.ms", "30000"}});
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, this);
    char err[256];
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p) throw std::runtime_error(fmt::format("net mode: Kafka producer: {}", err));
    return p;
  }

  void consume(member& m) {
    const auto& g = *m.group;
    const std::string strategy = g.assignor == "cooperative-sticky" ? "cooperative-sticky" : g.assignor;
    rd_kafka_conf_t* conf = client_conf(
        server_->bootstrap(),
        {{"group.id", g.group}, {"client.id", fmt::format("{}-{}", g.group, m.index)},
         {"auto.offset.reset", "earliest"}, {"enable.auto.offset.store", "false"},
         {"enable.auto.commit", g.commit == models::commit_mode::auto_interval ? "true" : "false"},
         {"auto.commit.interval.ms", std::to_string(to_ms(g.auto_commit_interval))},
         {"session.timeout.ms", std::to_string(to_ms(g.session_timeout))},
         {"heartbeat.interval.ms", std::to_string(to_ms(g.heartbeat_interval))},
         {"partition.assignment.strategy", strategy}, {"fetch.wait.max.ms", "10"}});
    char err[256];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
      assignments_read_->count_down();
      return;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, g.topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
    std::vector<rd_kafka_message_t*> batch(std::max<std::size_t>(g.max_poll_records, 1));
    while (!stopping_ && !m.killed) {
      const std::span<rd_kafka_message_t*> got = poll(rk, queue, batch);
      if (g.commit == models::commit_mode::before_processing && !got.empty()) {
        // At-most-once: the whole poll counts as done before any of it is worked on.
        for (rd_kafka_message_t* msg : got) {
          if (!msg->err) rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
        }
        rd_kafka_commit(rk, nullptr, 0);
      }
      const std::vector<char> processed = work_through(m, rk, got);
      // Stored offsets are what a commit sends: the processed records', in poll order, except
      // when they were committed before processing or one by one.
      if (g.commit == models::commit_mode::poll || g.commit == models::commit_mode::auto_interval) {
        for (std::size_t i = 0; i < got.size(); ++i) {
          if (processed[i]) rd_kafka_offset_store(got[i]->rkt, got[i]->partition, got[i]->offset);
        }
      }
      for (rd_kafka_message_t* msg : got) rd_kafka_message_destroy(msg);
      // commitSync after the poll's records; with enable.auto.commit librdkafka commits the
      // stored offsets every auto.commit.interval.ms by itself.
      if (g.commit == models::commit_mode::poll && !got.empty() && !m.killed) rd_kafka_commit(rk, nullptr, 0);
    }
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      m.idle = assigned->cnt == 0;
      rd_kafka_topic_partition_list_destroy(assigned);
    }
    rd_kafka_queue_destroy(queue);
    if (m.killed) {
      assignments_read_->count_down();
      rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
      return;
    }
    // Everyone reads its assignment before anyone leaves: a leaving member would trigger a
    // rebalance that empties the others' assignments and make them look idle.
    assignments_read_->arrive_and_wait();
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }

  /// KafkaConsumer.poll(): what has arrived, up to max.poll.records, or else the first record
  /// to arrive within 20 ms and what came with it. (rd_kafka_consume_batch_queue alone waits for
  /// a full batch or the timeout, which held each record 10 ms on average.)
  static std::span<rd_kafka_message_t*> poll(rd_kafka_t* rk, rd_kafka_queue_t* queue, std::vector<rd_kafka_message_t*>& batch) {
    auto ready = [&](std::size_t from) {
      const ssize_t n = rd_kafka_consume_batch_queue(queue, 0, batch.data() + from, batch.size() - from);
      return from + static_cast<std::size_t>(std::max<ssize_t>(n, 0));
    };
    std::size_t n = ready(0);
    if (n == 0) {
      if (rd_kafka_message_t* first = rd_kafka_consumer_poll(rk, 20)) {
        batch[0] = first;
        n = batch.size() > 1 ? ready(1) : 1;
      }
    }
    return {batch.data(), n};
  }

  /// The poll's records, `threads` at a time in poll order as the simulation's consumer works
  /// them; with commit per record each is committed (offset + 1) as soon as it is done, whatever
  /// earlier ones are still in work. Says which records were processed.
  std::vector<char> work_through(member& m, rd_kafka_t* rk, std::span<rd_kafka_message_t*> got) {
    std::vector<char> processed(got.size());   // one byte each: every thread writes only its own
    std::vector<double> services(got.size());  // drawn in poll order, whichever thread works the record
    for (double& s : services) s = m.group->service.sample(m.rng);
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
      for (std::size_t i = next++; i < got.size() && !m.killed; i = next++) {
        if (got[i]->err || !work(m, *got[i], services[i])) continue;
        if (m.group->commit == models::commit_mode::record) commit_next(rk, *got[i]);  // MANUAL_IMMEDIATE
        processed[i] = 1;
      }
    };
    {
      std::vector<std::jthread> helpers;
      for (int t = 1; t < m.group->threads && static_cast<std::size_t>(t) < got.size(); ++t) helpers.emplace_back(worker);
      worker();
    }
    return processed;
  }

  static void commit_next(rd_kafka_t* rk, const rd_kafka_message_t& msg) {
    rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(msg.rkt), msg.partition)->offset = msg.offset + 1;
    rd_kafka_commit(rk, offsets, 0);
    rd_kafka_topic_partition_list_destroy(offsets);
  }

  /// Works one record for `service` seconds; a consumer killed meanwhile never finishes it.
  bool work(member& m, const rd_kafka_message_t& msg, double service) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<std::int64_t>(service * 1e9)));
    if (m.killed) return false;
    const auto stamp = models::decode_payload<models::record_stamp>(
        std::string_view(static_cast<const char*>(msg.payload), msg.len));
    const clock::time_point start{clock::duration(start_ns_.load(std::memory_order_acquire))};
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start).count();
    ++m.delivered;
    std::lock_guard lock(ledger_lock_);
    ledgers_.of(m.group->group).finish(stamp, now_ns);
    models::mark_finished(done_[m.group->group][msg.partition], msg.offset);
    return true;
  }

  /// Records below the group's committed offsets that it never finished: committed before
  /// processing and lost with a consumer that died (at-most-once).
  std::uint64_t skipped(const models::kafka_group_spec& g) const {
    return server_->call([this, &g] {
      std::uint64_t total = 0;
      const auto* group = server_->service().group(g.group);
      const auto finished = done_.find(g.group);
      for (std::int32_t p = 0; p < server_->core().partitions(g.topic); ++p) {
        const std::int64_t committed = group ? group->committed({g.topic, p}).value_or(0) : 0;
        const std::vector<bool>* done = nullptr;
        if (finished != done_.end()) {
          if (const auto d = finished->second.find(p); d != finished->second.end()) done = &d->second;
        }
        total += models::unfinished_below(done, committed);
      }
      return total;
    });
  }

  void stop_clients() {
    if (stopping_) return;
    answering_ = false;  // the model is collecting: the flush's reports only count
    for (auto& [settings, p] : producers_) rd_kafka_flush(p, 5000);
    final_lag_ = lag();
    stopping_ = true;
    for (auto& m : members_) {
      if (m->thread.joinable()) m->thread.join();
    }
  }

  void shut_down() {
    stop_clients();
    for (auto& [settings, p] : producers_) rd_kafka_destroy(p);
    producers_.clear();
    if (server_) server_->stop();
  }

  sim::simulator& sim_;
  const models::kafka_spec& spec_;
  bool rounds_;
  sim::rng key_rng_;
  std::vector<models::produce_step> produces_;
  std::unique_ptr<server_thread> server_;
  std::vector<std::unique_ptr<member>> members_;
  std::map<std::tuple<std::int8_t, std::int64_t, std::uint32_t>, rd_kafka_t*> producers_;
  std::map<int, std::uint64_t> next_sequence_;
  std::int32_t round_robin_ = 0;
  std::uintptr_t next_report_ = 1;
  std::map<std::uintptr_t, unreported> unreported_;
  bool answering_ = true;
  std::atomic<clock::rep> start_ns_{0};  // time 0 of the scenario, once the groups formed; read by the consumers
  std::atomic<bool> stopping_{false};
  std::unique_ptr<std::latch> assignments_read_;  // every consumer thread arrives once
  std::mutex ledger_lock_;
  models::group_ledgers ledgers_;
  // Per group and partition, the offsets its consumers finished (under ledger_lock_).
  std::map<std::string, std::map<std::int32_t, std::vector<bool>>> done_;
  std::uint64_t produced_ = 0, acked_ = 0, failed_ = 0;
  std::int64_t final_lag_ = 0;
  core_counters at_warmup_;
  models::cpu_window cpu_;  // the server's thread
  clock::time_point measured_from_;
  std::uint64_t delivered_at_warmup_ = 0;
};

}  // namespace

namespace {
const models::cost_model ideal_costs;  // a side with no brokers prices nothing
}  // namespace

std::unique_ptr<models::kafka_side> make_net_kafka(sim::simulator& sim, const models::system_spec& spec,
                                                   const sim::random_streams& streams) {
  if (spec.kafka.brokers == 0) return std::make_unique<models::kafka_model>(sim, spec.kafka, ideal_costs, streams);
  return std::make_unique<net_kafka>(sim, spec.kafka, spec.costs.ideal, streams, models::steps_of<models::produce_step>(spec));
}

}  // namespace mqlab::workbench
