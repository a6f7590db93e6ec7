// The Kafka side of a simulated system: a cluster from the broker core, producers' records from
// produce steps, and consumer groups that poll, work through records and commit, with session
// timeouts and faults (broker crash and restart, a consumer that dies). With profile `ideal`
// nothing costs time and followers copy on a tick. Otherwise the work is priced on the brokers'
// resources: the producer batches per partition (batch.size, linger.ms, 5 requests in flight
// per broker), followers fetch continuously over the links and long-poll when caught up
// (replica.fetch.wait.max.ms), acks=all is answered once the high watermark passes the batch,
// and consumers fetch over their links — only below the high watermark, in every acks mode.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/kafka/client.h"
#include "models/cluster_resources.h"
#include "models/kafka_side.h"
#include "models/slot_pool.h"
#include "models/record_ledger.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

class kafka_model final : public kafka_side {
 public:
  /// `sim`, `spec` and `costs` must outlive the model.
  /// `host`: the machine every node and client shares (cost_model::host_cores), or none.
  kafka_model(sim::simulator& sim, const kafka_spec& spec, const cost_model& costs, const sim::random_streams& streams,
              cpu_pool* host = nullptr);

  bool enabled() const override { return spec_.brokers > 0; }
  /// Schedules replication ticks and the consumers' first polls.
  void start() override;
  void produce(const produce_step& step, sim::sim_time created, bool measured, done_fn answered) override;
  bool fault_resources(const std::string& target, const resource_fault& f) override;
  void start_measuring() override;
  bool crash(const std::string& target) override;
  bool restart(const std::string& target) override;
  /// The consumer stops polling and heartbeating; its session expires.
  bool kill(const std::string& group, int index) override;
  /// Records behind the committed/consumed positions, summed over every live consumer.
  std::int64_t lag() const override;
  void collect(std::map<std::string, double>& values, sim::histogram& e2e) override;

 private:
  struct member {
    const kafka_group_spec* group = nullptr;
    std::unique_ptr<broker::kafka::consumer> client;
    struct polled_record {
      record_stamp stamp;  // what the ledger needs
      std::int32_t partition = 0;  // of the group's topic
      std::int64_t offset = 0;
    };
    std::deque<polled_record> buffer;  // polled, not yet worked on
    // Taken from the buffer to be worked on (up to the group's threads at once), in poll order;
    // `first_in_hand` numbers the front, finished ones leave from the front.
    std::deque<std::pair<polled_record, bool>> in_hand;
    std::uint64_t first_in_hand = 0;
    int working = 0;
    bool alive = true;
    std::uint64_t delivered = 0;
    sim::rng service_rng;
    record_ledger* ledger = nullptr;  // its group's
    // A fetch that found nothing waits at the leader (fetch.max.wait.ms) until records pass
    // the high watermark: the consumer's long poll.
    bool parked = false;
    sim::event_id park_timeout;
  };
  std::int64_t now_ms() const { return sim_.now().ns() / 1'000'000; }
  void tick();
  void heartbeat(std::size_t m);
  void poll(std::size_t m);
  /// The member's fetch at its partitions' leaders: records go back to it, or it waits there.
  void consumer_fetch(std::size_t m);
  /// Member `m`'s OffsetCommit, priced (a request its group's coordinator reads and takes in,
  /// answered over the link): commitSync, so `answered` (the next poll) waits for it.
  void commit_request(std::size_t m, done_fn answered);
  /// The fetch's answer (`n` records, `bytes`) crosses back from `node` to member `m`.
  void answer_fetch(std::size_t m, broker::node_id node, std::size_t n, std::uint64_t bytes);
  /// Parked fetches that have records to return now take them (the high watermark moved).
  void wake_consumers();
  /// Takes what a poll returned into the member's buffer and starts working through it.
  void polled(std::size_t m, std::size_t got);
  void work(std::size_t m);
  /// A member finished a record: the ledger, the offsets its group has done, a per-record commit.
  void finished(std::size_t m, const member::polled_record& r);
  /// Records below a group's committed offsets it never finished and no live member still holds
  /// (commit per record or before processing only; the other modes commit only what is done):
  /// the at-most-once losses.
  std::uint64_t skipped(const kafka_group_spec& g) const;
  broker::kafka::record make_record(const produce_step& step, sim::sim_time created, bool measured);
  /// The partition a record goes to: the Java client's murmur2 of its key, else round-robin
  /// (kept here rather than sticky so that the order lesson shows what keys buy).
  std::int32_t partition_of(const produce_step& step, const broker::kafka::record& r);

  // Priced (kafka_replication.cc).
  /// A batch on its way to a partition's leader, and who waits for its answer.
  struct batch {
    std::string topic;
    std::int32_t partition = 0;
    std::int8_t acks = 1;
    std::vector<broker::kafka::record> records;
    std::vector<done_fn> waiting;
    std::vector<bool> measured;
    std::size_t bytes = 0;
    std::int32_t broker = -1;     // the leader it was sent to
    std::int64_t end_offset = 0;  // acks=all: answered once the high watermark reaches it
    bool linger_armed = false;
    bool in_flight = false;       // counted against the producer's in-flight limit
    sim::sim_time first_sent;     // retries stop delivery.timeout.ms after it
  };
  /// A follower broker's replica fetcher for the partitions one leader broker leads
  /// (num.replica.fetchers = 1: one request covers them all).
  struct fetcher {
    std::int32_t follower = 0, leader = 0;
    bool parked = false;   // long-polling at the leader, caught up
    sim::event_id timeout;
    struct part {
      std::string topic;
      std::int32_t partition = 0;
      broker::kafka::partition_log::slice records;
    };
    std::vector<part> fetched;
  };
  void start_priced();
  /// The batch filling for a partition, made empty on first use.
  batch& open_batch(const std::string& topic, std::int32_t p);
  void add_record(const produce_step& step, broker::kafka::record r, bool measured, done_fn answered);
  /// Closes a partition's open batch and sends it.
  void send_batch(batch& open);
  void send_to_leader(std::uint32_t b);
  void batch_arrives(std::uint32_t b);
  void answer(std::uint32_t b, bool ok);
  void check_acks(std::int32_t leader);
  void fail_acks_of(std::int32_t broker);
  /// Counts a change of the controller broker after a crash or restart.
  void note_controller();
  void fetch_round(std::size_t f);
  void fetch_at_leader(std::size_t f);
  void fetched_at_follower(std::size_t f);
  void wake_fetchers(std::int32_t leader);
  void housekeeping();
  /// Where consumer `m` fetches from: the leader of its first partition (broker 0 if it has none).
  broker::node_id fetch_node(std::size_t m) const;
  broker::node_id node_of(std::int32_t b) const { return broker::node_id{static_cast<std::uint32_t>(b)}; }
  std::int32_t leader_of(const std::string& topic, std::int32_t p) const { return cluster_.partition(topic, p).leader; }

  sim::simulator& sim_;
  const kafka_spec& spec_;
  broker::kafka::cluster cluster_;
  std::optional<cluster_resources> resources_;  // none when ideal
  std::map<std::string, std::vector<batch>, std::less<>> open_;  // per topic and partition, filling
  slot_pool<batch> batches_;              // sent, awaiting their answer
  std::vector<std::uint32_t> awaiting_hw_;  // acks=all batches appended, waiting for the high watermark
  std::vector<int> in_flight_;            // per broker: produce requests the producer has out
  std::vector<fetcher> fetchers_;
  sim::rng key_rng_;
  std::vector<member> members_;
  std::int32_t round_robin_ = 0;
  broker::kafka::byte_arena values_;          // the records' values, packed
  std::vector<std::uint32_t> next_sequence_;  // per key
  std::vector<broker::kafka::shared_bytes> key_names_;  // "key-N", made once and shared by its records
  group_ledgers ledgers_;
  // Per group whose commits can run ahead of its work: which offsets of each partition it finished.
  std::map<std::string, std::map<broker::kafka::topic_partition, std::vector<bool>>> done_;
  std::uint64_t produced_ = 0, acked_ = 0, failed_ = 0;
  std::int32_t controller_ = -1;  // as last seen
  std::uint64_t controller_changes_ = 0;
  std::uint64_t polled_ = 0, polled_at_warmup_ = 0;  // records handed to consumers, measured or not
  sim::sim_time measured_from_;                      // the end of the warm-up, for rates
  std::uint64_t lost_at_warmup_ = 0, vanished_at_warmup_ = 0, bytes_at_warmup_ = 0;
};

}  // namespace mqlab::models
