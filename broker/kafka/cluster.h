// A Kafka cluster as a state machine: brokers, topics with partitions placed on replicas, a
// leader and an in-sync replica set (ISR) per partition, the high watermark (consumers only see
// records every ISR member has), acks 0/1/all with min.insync.replicas, followers that
// replicate when replicate(now) runs and drop out of the ISR after replica.lag.time.max.ms,
// clean and unclean leader election when a broker dies (with the data loss the latter implies),
// truncation of a returning replica, and the group coordinator. No I/O, no clock.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "broker/coordination/store.h"
#include "broker/kafka/errors.h"
#include "broker/kafka/group.h"
#include "broker/kafka/log.h"
#include "broker/work.h"

namespace mqlab::broker::kafka {

struct topic_config {
  std::int32_t partitions = 1;
  std::int32_t replication_factor = 1;
  std::int32_t min_insync_replicas = 1;
  bool unclean_leader_election = false;
  log_config log;
};

enum class acks : std::int8_t { none = 0, leader = 1, all = -1 };

struct produce_result {
  error_code error = error_code::none;
  std::int64_t base_offset = -1;  // -1 with acks=0 (the producer is not told)
};

struct fetch_result {
  error_code error = error_code::none;
  std::vector<record> records;
  std::int64_t high_watermark = 0;
  std::int64_t log_start_offset = 0;
};

struct partition_state {
  std::vector<std::int32_t> replicas;   // preferred order; replicas[0] is the preferred leader
  std::int32_t leader = -1;             // -1: offline
  std::int32_t leader_epoch = 0;
  std::set<std::int32_t> isr;
  std::int64_t high_watermark = 0;
  std::int64_t acknowledged_end = 0;    // one past the last record a producer was told is written
  std::map<std::int32_t, partition_log> logs;            // per replica
  std::map<std::int32_t, std::int64_t> caught_up_ms;     // last time each follower matched the leader
  std::map<std::int32_t, std::int64_t> epoch_start;      // leader epoch -> its first offset (KIP-101)
  std::map<std::int32_t, std::int32_t> replica_epoch;    // the epoch each replica last followed
  std::map<std::int32_t, std::uint64_t> memory;           // each replica's log's memory_bytes() when last metered
  std::uint64_t process = 0;  // the work site of this partition's log on each replica (its lock)
};

class cluster {
 public:
  explicit cluster(std::int32_t brokers, std::int64_t replica_lag_time_max_ms = 30'000);

  /// `now_ms` starts the followers' replica.lag.time.max.ms clocks.
  error_code create_topic(const std::string& name, const topic_config& config, std::int64_t now_ms = 0);
  bool has_topic(const std::string& name) const { return topics_.contains(name); }
  std::int32_t partitions(const std::string& topic) const;
  /// Partitions of every topic together.
  std::int64_t total_partitions() const;
  std::vector<std::string> topic_names() const;

  /// Appends records to the partition's leader. acks=all needs min.insync.replicas in the ISR
  /// and is acknowledged once every ISR member has the records.
  produce_result produce(const std::string& topic, std::int32_t partition, std::vector<record> records, acks a,
                         std::int64_t now_ms);
  /// One record, without a batch around it.
  produce_result produce(const std::string& topic, std::int32_t partition, record r, acks a, std::int64_t now_ms);
  /// Committed records (below the high watermark) from `offset`.
  fetch_result fetch(const std::string& topic, std::int32_t partition, std::int64_t offset, std::size_t max_records) const;
  /// Zero-copy fetch: f(const record&) per committed record from `offset`; returns the count.
  template <typename F>
  std::expected<std::size_t, error_code> fetch_visit(const std::string& topic, std::int32_t partition,
                                                     std::int64_t offset, std::size_t max_records, F&& f) const {
    const topic_state* t = this->topic(topic);
    if (t == nullptr || partition < 0 || partition >= t->config.partitions) {
      return std::unexpected(error_code::unknown_topic_or_partition);
    }
    const auto& ps = t->partitions[static_cast<std::size_t>(partition)];
    if (ps.leader < 0) return std::unexpected(error_code::leader_not_available);
    auto visited = ps.logs.at(ps.leader).visit(offset, max_records, ps.high_watermark, std::forward<F>(f));
    charge_fetch(ps.leader, visited.value_or(0));
    return visited;
  }
  /// Followers fetch from their leaders; the ISR and high watermarks follow.
  void replicate(std::int64_t now_ms);

  /// Replication driven by the followers themselves, as over a network: produce with acks=all
  /// no longer copies to the followers; the caller acknowledges it (acknowledge()) once the high
  /// watermark has passed its records, as the followers' fetches move it.
  void set_follower_fetching(bool on) { follower_fetching_ = on; }
  bool follower_fetching() const { return follower_fetching_; }
  /// What follower `follower` lacks of the leader's log, uncommitted records included, after
  /// dropping records of its own the leader never had. NOT_LEADER_OR_FOLLOWER if it is not a
  /// live follower of the partition.
  /// A follower fetching from the leader's log end is caught up: it stays in (or rejoins) the ISR.
  /// The records are the leader's, by reference.
  std::expected<partition_log::slice, error_code> follower_fetch(const std::string& topic, std::int32_t partition,
                                                                std::int32_t follower, std::size_t max_records,
                                                                std::int64_t now_ms);
  /// The follower appends what it fetched; caught up, it is back in the ISR; the high
  /// watermark follows. Records that do not continue its log are ignored.
  void follower_append(const std::string& topic, std::int32_t partition, std::int32_t follower,
                       std::vector<record> records, std::int64_t now_ms);
  /// follower_append() of what follower_fetch() returned, in-process: the follower's log shares
  /// the leader's records, as replicas' segment files hold the same bytes.
  void follower_append(const std::string& topic, std::int32_t partition, std::int32_t follower,
                       const partition_log::slice& records, std::int64_t now_ms);
  /// replica.lag.time.max.ms: followers that have not caught up for that long leave the ISR.
  void expire_lagging(std::int64_t now_ms);
  /// The producer was told records up to `end` (exclusive) are written (acks=all under
  /// follower fetching).
  void acknowledge(const std::string& topic, std::int32_t partition, std::int64_t end);
  /// Applies retention and compaction to every replica's log.
  void clean(std::int64_t now_ms);

  void crash_broker(std::int32_t broker, std::int64_t now_ms);
  void restart_broker(std::int32_t broker, std::int64_t now_ms);
  bool broker_up(std::int32_t broker) const { return up_.at(static_cast<std::size_t>(broker)); }

  const partition_state& partition(const std::string& topic, std::int32_t p) const;
  std::int64_t log_end_offset(const std::string& topic, std::int32_t p) const;
  /// Records a producer was told were written and that no longer exist (unclean election, or
  /// acks=1 records the new leader never had), and records sent with acks=0 to no leader.
  std::uint64_t lost_records() const { return lost_; }
  std::uint64_t truncated_records() const { return truncated_; }
  /// Records the old leader had and the new one lacks, acknowledged or not (acks=0 included).
  std::uint64_t vanished_records() const { return vanished_; }
  std::uint64_t inter_broker_bytes() const { return inter_broker_bytes_; }

  /// Per-partition lag of a group (high watermark minus committed offset), for the partitions
  /// the group has committed, as kafka-consumer-groups --describe shows it.
  std::map<topic_partition, std::int64_t> group_lag(const std::string& group) const;

  /// The work calls did (off until enabled): produce requests on the leader's CPU, appends on
  /// each replica's partition log, fetches (consumers' and followers') on the leader's CPU.
  work_meter& meter() const { return meter_; }

  // --- a server's storage (the core itself does no I/O) -----------------------------------
  /// Off by default: notes the partitions whose logs calls may have changed (appends,
  /// truncations, retention), so that a server keeping the logs on disk visits only those.
  void note_touched(bool on) { noting_ = on; }
  /// The partitions noted since the last call, each once.
  std::vector<topic_partition> take_touched();
  const topic_config& config(const std::string& topic) const { return topics_.at(topic).config; }
  /// partition_log::take_truncation() of replica `broker`'s log.
  std::int64_t take_truncation(const topic_partition& tp, std::int32_t broker) {
    return topics_.at(tp.topic).partitions.at(static_cast<std::size_t>(tp.partition)).logs.at(broker).take_truncation();
  }
  std::size_t topic_count() const { return topics_.size(); }
  /// Restoring from disk: replica `broker`'s log of a partition holds `records`, from
  /// `start_offset` (records below it were deleted by retention).
  void restore_log(const std::string& topic, std::int32_t p, std::int32_t broker, std::int64_t start_offset,
                   std::vector<record> records);
  /// After restore_log() of every replica of the partition, as when every broker restarts at
  /// once: the replicas with the longest log are the ISR, the first of them in replica order
  /// leads, and everything they hold is committed (followers that had it are back in sync).
  void restored(const std::string& topic, std::int32_t p, std::int64_t now_ms);

  group_coordinator& groups() { return groups_; }
  const group_coordinator& groups() const { return groups_; }

  /// The broker holding /controller in the coordination store, or -1.
  std::int32_t controller();
  /// ZooKeeper's view: /brokers/ids/N (ephemeral, per live broker), /controller, and
  /// /brokers/topics/T/partitions/P/state ("leader=L isr=a,b epoch=E").
  coordination::store& coordination() { return zk_; }

 private:
  /// produce() for records the leader may move from.
  produce_result append_batch(const std::string& topic, std::int32_t partition, std::span<record> records, acks a,
                              std::int64_t now_ms);
  struct topic_state {
    topic_config config;
    std::vector<partition_state> partitions;
  };
  partition_state* find(const std::string& topic, std::int32_t p);
  /// The topic named `name`, or null. Calls come in runs for one topic (a batch's records, a
  /// fetch's partitions), so the last one found is tried first.
  const topic_state* topic(const std::string& name) const;
  topic_state* topic(const std::string& name) {
    return const_cast<topic_state*>(std::as_const(*this).topic(name));
  }
  void elect(partition_state& ps, const topic_config& config);
  void update_high_watermark(partition_state& ps);
  /// Truncates what the follower has and the leader lacks; returns the offset it needs next.
  std::int64_t align(partition_state& ps, std::int32_t follower);
  /// align(), then what the follower lacks.
  partition_log::slice lacking(partition_state& ps, std::int32_t follower, std::size_t max_records);
  /// In-process replication: align(), then the follower takes, by reference, what it lacks of
  /// the leader's log.
  void catch_up(partition_state& ps, std::int32_t follower, std::int64_t now_ms);
  /// The partition, if `follower` is a follower of its live leader.
  partition_state* follower_of(const std::string& topic, std::int32_t p, std::int32_t follower);
  /// After a follower's append: it may be caught up, the high watermark may move.
  void appended(partition_state& ps, std::int32_t follower, std::int64_t now_ms);
  /// A follower at the leader's log end is in sync as of now.
  void note_caught_up(partition_state& ps, std::int32_t follower, std::int64_t now_ms);
  void expire_lagging(partition_state& ps, std::int64_t now_ms);
  void register_broker(std::int32_t broker);
  void charge_fetch(std::int32_t leader, std::size_t records) const;
  /// `copied`: a follower's copy of its leader's records, which it also took in from a fetch.
  void charge_append(const partition_state& ps, std::int32_t replica, std::span<const record> records,
                     bool copied = false) const;
  void charge_append(const partition_state& ps, std::int32_t replica, std::size_t records, std::uint64_t bytes,
                     bool copied = false) const;
  /// After an append to `replica`'s log: what its broker holds past the most it held before.
  void charge_memory(partition_state& ps, std::int32_t replica);
  void elect_controller();
  void publish_state(const std::string& topic, std::int32_t p, const partition_state& ps);

  std::int32_t brokers_;
  std::int64_t lag_max_ms_;
  std::vector<bool> up_;
  std::map<std::string, topic_state> topics_;  // never erased from: the nodes stay where they are
  /// The entry of topics_ topic() found last; a copy of the cluster starts without one.
  struct recent_topic {
    const std::pair<const std::string, topic_state>* entry = nullptr;
    recent_topic() = default;
    recent_topic(const recent_topic&) {}
    recent_topic& operator=(const recent_topic&) {
      entry = nullptr;
      return *this;
    }
  };
  mutable recent_topic recent_;
  group_coordinator groups_;
  coordination::store zk_;
  std::vector<coordination::session_id> sessions_;
  std::uint64_t lost_ = 0, truncated_ = 0, vanished_ = 0, inter_broker_bytes_ = 0;
  /// Per broker, while metering: the memory its logs held when last metered, and the most ever.
  std::vector<std::uint64_t> memory_, memory_peak_;
  bool follower_fetching_ = false;
  bool noting_ = false;
  bool all_touched_ = false;               // a call over every partition (retention, replication ticks)
  std::set<topic_partition> touched_;
  mutable work_meter meter_;  // counting is not a change of state: const reads charge it too
};

}  // namespace mqlab::broker::kafka
