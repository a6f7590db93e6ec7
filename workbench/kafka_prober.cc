// The probes run on the calling thread, which feeds the producer and drains the consumer in turn
// without blocking; librdkafka's own threads do the network. Statistics come every 200 ms; the
// last ones before the second checkpoint say how the clients batched.
#include "workbench/kafka_prober.h"

#include <array>
#include <chrono>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "models/measured_cpu.h"
#include "net/log.h"
#include "workbench/process_cpu.h"

namespace mqlab::workbench {

namespace {

using clock = std::chrono::steady_clock;

constexpr const char* prefix = "mqlab.calibrate";
// Each probe's topic keeps at most this much per partition (retention.bytes): a broker is never
// asked to hold every record a saturating producer made.
constexpr const char* retention_bytes = "16777216";

int milliseconds(clock::duration d) { return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); }

/// A librdkafka handle and what its callbacks saw.
struct kafka_client {
  rd_kafka_t* rk = nullptr;
  std::uint64_t delivered = 0;
  std::string failure;  // the first failed delivery
  std::string stats;    // the latest statistics, JSON
  ~kafka_client() {
    if (rk == nullptr) return;
    if (rd_kafka_type(rk) == RD_KAFKA_PRODUCER) rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    else rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

using properties = std::vector<std::pair<std::string, std::string>>;

std::expected<std::unique_ptr<kafka_client>, std::string> make_client(rd_kafka_type_t type, const std::string& bootstrap,
                                                                      const properties& props) {
  auto c = std::make_unique<kafka_client>();
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : properties{{"bootstrap.servers", bootstrap}, {"statistics.interval.ms", "200"}}) {
    rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
  }
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return std::unexpected(fmt::format("librdkafka {}={}: {}", k, v, err));
    }
  }
  rd_kafka_conf_set_opaque(conf, c.get());
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char* facility, const char* text) {
    net::log(net::log_level::debug, "librdkafka {}: {}", facility, text);
  });
  rd_kafka_conf_set_stats_cb(conf, [](rd_kafka_t*, char* json, std::size_t len, void* opaque) {
    static_cast<kafka_client*>(opaque)->stats.assign(json, len);
    return 0;
  });
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<kafka_client*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++self->delivered;
    else if (self->failure.empty()) self->failure = fmt::format("a record was not acknowledged: {}", rd_kafka_err2str(m->err));
  });
  c->rk = rd_kafka_new(type, conf, err, sizeof err);  // takes conf, even when it fails
  if (c->rk == nullptr) return std::unexpected(fmt::format("librdkafka: {}", err));
  return c;
}

/// Creates the probe's topic through the admin API, unless an earlier calibration did, and waits
/// for the broker's answer.
std::expected<void, std::string> create_topic(rd_kafka_t* rk, const std::string& name, int partitions, int replicas,
                                              clock::duration answer) {
  char err[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), partitions, replicas, err, sizeof err);
  if (topic == nullptr) return std::unexpected(fmt::format("topic {}: {}", name, err));
  rd_kafka_NewTopic_set_config(topic, "retention.bytes", retention_bytes);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, nullptr, queue);
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, milliseconds(answer));
  std::expected<void, std::string> out;
  if (event == nullptr) {
    out = std::unexpected(fmt::format("no answer to CreateTopics within {} ms", milliseconds(answer)));
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out = std::unexpected(fmt::format("CreateTopics {}: {}", name, rd_kafka_event_error_string(event)));
  } else {
    std::size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
    const rd_kafka_resp_err_t err = n == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      out = std::unexpected(fmt::format("CreateTopics {}: {}", name, rd_kafka_topic_result_error_string(results[0])));
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  return out;
}

/// The consumer reads every partition of `topic` from its end (what this probe produces), without a group.
std::expected<void, std::string> assign_all(rd_kafka_t* rk, const std::string& topic, int partitions) {
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int i = 0; i < partitions; ++i) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), i)->offset = RD_KAFKA_OFFSET_END;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(fmt::format("assign {}: {}", topic, rd_kafka_err2str(err)));
  return {};
}

/// Records per produced batch and per partition fetched, from the clients' latest statistics
/// (1 when they have none yet).
kafka_batching batching_of(const kafka_client& producer, const kafka_client& consumer, const std::string& topic,
                           int partitions) {
  kafka_batching b;
  const auto p = nlohmann::json::parse(producer.stats, nullptr, false);
  if (!p.is_discarded()) {
    const double per_batch = p.value("/topics"_json_pointer / topic / "batchcnt" / "avg", 0.0);
    if (per_batch >= 1) b.records_per_batch = per_batch;
  }
  const auto c = nlohmann::json::parse(consumer.stats, nullptr, false);
  if (!c.is_discarded() && c.contains("brokers")) {
    double fetches = 0;
    for (const auto& [name, broker] : c["brokers"].items()) fetches += broker.value("/req/Fetch"_json_pointer, 0.0);
    // A fetch request names every assigned partition; the core serves (and prices) each.
    const double records = c.value("rxmsgs", 0.0), partition_fetches = fetches * partitions;
    if (partition_fetches > 0 && records >= partition_fetches) b.records_per_fetch = records / partition_fetches;
  }
  return b;
}

/// The probe's producer: batched as the probe says, many requests in flight so that even one
/// record per request keeps the broker busy rather than waiting for round trips — or, one at a
/// time, one request in flight and a short queue, so that no record waits long for its turn.
properties producer_properties(const kafka_probe& p, clock::duration answer) {
  return {{"acks", fmt::format("{}", p.acks)},
          {"linger.ms", p.batch_records > 1 ? "5" : "0"},
          {"batch.num.messages", fmt::format("{}", p.batch_records)},
          {"max.in.flight.requests.per.connection", p.one_at_a_time > 0 ? "1" : "1000"},
          {"queue.buffering.max.messages", p.one_at_a_time > 0 ? "100" : "100000"},
          {"message.timeout.ms", fmt::format("{}", milliseconds(answer))}};
}

using producers = std::vector<std::unique_ptr<kafka_client>>;

/// One probe under way on the calling thread: each producer fed until its queue is full, their
/// acknowledgements served, what the consumer fetched drained.
class probe_run {
 public:
  probe_run(const producers& producer, kafka_client& consumer, const kafka_probe& p, std::string topic, clock::duration answer)
      : producers_(producer), consumed_(rd_kafka_queue_get_consumer(consumer.rk)), probe_(p), topic_(std::move(topic)),
        value_(p.bytes, 'r'), answer_(answer) {}
  ~probe_run() { rd_kafka_queue_destroy(consumed_); }
  probe_run(const probe_run&) = delete;
  probe_run& operator=(const probe_run&) = delete;

  std::uint64_t delivered() const {
    std::uint64_t total = 0;
    for (const auto& p : producers_) total += p->delivered;
    return total;
  }

  /// Runs until `done()`; the reason if the broker fails a record or nothing moves for the answer timeout.
  template <typename Done>
  std::expected<void, std::string> until(Done done) {
    auto progress_at = clock::now();
    while (!done()) {
      if (auto failure = step(); !failure.empty()) return std::unexpected(failure);
      if (delivered() != seen_ || fetched_ > 0) {
        seen_ = delivered();
        progress_at = clock::now();
      } else if (clock::now() - progress_at > answer_) {
        return std::unexpected(fmt::format("nothing acknowledged or fetched for {} ms", milliseconds(answer_)));
      }
    }
    return {};
  }

 private:
  /// One round; a failure's reason, or "".
  std::string step() {
    bool full = true;
    for (const auto& p : producers_) {
      auto filled = fill(*p);
      if (!filled) return filled.error();
      full = full && *filled;
    }
    // Full queues wait for acknowledgements asleep, so that the prober's CPU is its work.
    for (const auto& p : producers_) rd_kafka_poll(p->rk, full && p == producers_.front() ? 1 : 0);
    const ssize_t n = rd_kafka_consume_batch_queue(consumed_, 0, batch_.data(), batch_.size());
    for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(batch_[static_cast<std::size_t>(i)]);
    fetched_ = n > 0 ? static_cast<std::size_t>(n) : 0;
    for (const auto& p : producers_) {
      if (!p->failure.empty()) return p->failure;
    }
    return "";
  }

  /// Produces into `p` until its queue is full (true) or a thousand records went in (false).
  std::expected<bool, std::string> fill(kafka_client& p) {
    for (int i = 0; i < 1000; ++i) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          p.rk, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(partition_),
          RD_KAFKA_V_VALUE(const_cast<char*>(value_.data()), value_.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return true;
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(fmt::format("produce: {}", rd_kafka_err2str(err)));
      partition_ = (partition_ + 1) % probe_.partitions;
    }
    return false;
  }

  const producers& producers_;
  rd_kafka_queue_t* consumed_;
  const kafka_probe& probe_;
  std::string topic_, value_;
  clock::duration answer_;
  std::array<rd_kafka_message_t*, 1000> batch_{};
  std::uint64_t seen_ = 0;
  std::size_t fetched_ = 0;
  int partition_ = 0;
};

}  // namespace

std::expected<int, std::string> kafka_prober::check() {
  auto c = make_client(RD_KAFKA_PRODUCER, bootstrap_, {});
  if (!c) return std::unexpected(c.error());
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata((*c)->rk, 0, nullptr, &md, milliseconds(timing_.answer));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::unexpected(fmt::format("no Kafka metadata within {} ms: {}", milliseconds(timing_.answer), rd_kafka_err2str(err)));
  }
  const int brokers = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  return brokers;
}

std::expected<kafka_measurement, std::string> kafka_prober::saturate(const kafka_probe& p) {
  // The same topic every time (no Kafka API here deletes one): calibrating again adds nothing
  // to what the broker keeps, and retention bounds that.
  const std::string topic = fmt::format("{}.{}", prefix, p.name);
  producers producer;
  for (int i = 0; i < std::max(p.one_at_a_time, 1); ++i) {
    auto made = make_client(RD_KAFKA_PRODUCER, bootstrap_, producer_properties(p, timing_.answer));
    if (!made) return std::unexpected(made.error());
    producer.push_back(std::move(*made));
  }
  if (auto ok = create_topic(producer.front()->rk, topic, p.partitions, p.replication_factor, timing_.answer); !ok) return std::unexpected(ok.error());
  auto consumer = make_client(RD_KAFKA_CONSUMER, bootstrap_,
                              {{"group.id", prefix}, {"enable.auto.commit", "false"},
                               {"fetch.min.bytes", fmt::format("{}", p.fetch_min_bytes)}});
  if (!consumer) return std::unexpected(consumer.error());
  if (p.consumer) {  // else it stays unassigned and fetches nothing
    if (auto ok = assign_all((*consumer)->rk, topic, p.partitions); !ok) return std::unexpected(ok.error());
  }

  probe_run run(producer, **consumer, p, topic, timing_.answer);
  // The clock starts at the first acknowledgement: a new topic's metadata takes a while to reach the clients.
  if (auto ok = run.until([&] { return run.delivered() > 0; }); !ok) return std::unexpected(ok.error());
  const auto checkpoint = clock::now() + timing_.warmup;
  if (auto ok = run.until([&] { return clock::now() >= checkpoint; }); !ok) return std::unexpected(ok.error());
  const auto from = clock::now();
  const std::uint64_t delivered = run.delivered();
  const double own_cpu = models::process_cpu_seconds(), broker_cpu = broker_.read(), resident = broker_.resident();
  // The window ends once it has lasted and seen an acknowledgement (a loaded machine can hold
  // a replicated batch's longer than a short window), or after the answer timeout more.
  const auto closed = [&] {
    const auto now = clock::now();
    return now >= from + timing_.measure && (run.delivered() > delivered || now >= from + timing_.measure + timing_.answer);
  };
  if (auto ok = run.until(closed); !ok) return std::unexpected(ok.error());
  kafka_measurement m;
  m.measured.messages = run.delivered() - delivered;
  m.measured.seconds = std::chrono::duration<double>(clock::now() - from).count();
  m.measured.client_cpu = models::process_cpu_seconds() - own_cpu;
  m.measured.broker_cpu = broker_.read() - broker_cpu;
  m.measured.broker_memory_grown = std::max(0.0, broker_.resident() - resident);
  m.batching = batching_of(*producer.front(), **consumer, topic, p.partitions);
  return m;
}

}  // namespace mqlab::workbench
