// The client side of the Kafka model, over a cluster: a producer that partitions and batches
// (batch.size, linger.ms; acks) and a consumer that joins a group through the cluster's group
// coordinator as the Java client does over the wire (JoinGroup; the leader assigns and sends
// every member's share in SyncGroup; a heartbeat that says REBALANCE_IN_PROGRESS makes it
// commit and rejoin), polls up to max.poll.records from its assigned partitions, commits
// (auto-commit interval or manual), seeks (beginning, end, offset, timestamp), resets on
// OFFSET_OUT_OF_RANGE by auto.offset.reset, and reports its lag. Time is passed in; nothing
// here reads a clock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/kafka/cluster.h"
#include "broker/kafka/partitioner.h"

namespace mqlab::broker::kafka {

struct producer_config {
  acks required_acks = acks::leader;
  std::size_t batch_size = 16'384;  // bytes per partition batch (batch.size)
  std::int64_t linger_ms = 0;       // linger.ms
  keyless_strategy keyless = keyless_strategy::sticky;
};

class producer {
 public:
  producer(cluster& c, std::string topic, producer_config config = {});

  /// Queues a record; sends the partition's batch when it reaches batch.size (or at once
  /// with linger.ms 0). Returns the partition chosen.
  std::int32_t send(std::optional<std::string> key, std::optional<std::string> value, std::int64_t now_ms,
                    std::optional<std::int32_t> partition = std::nullopt);
  /// Sends batches whose linger has elapsed.
  void advance(std::int64_t now_ms);
  /// When advance() next has a batch to send, or INT64_MAX.
  std::int64_t next_deadline() const;
  void flush(std::int64_t now_ms);

  std::uint64_t acknowledged() const { return acknowledged_; }
  std::uint64_t failed() const { return failed_; }
  std::uint64_t batches_sent() const { return batches_; }

 private:
  struct pending {
    std::vector<record> records;
    std::size_t bytes = 0;
    std::int64_t opened_ms = 0;
  };
  void send_batch(std::int32_t partition, std::int64_t now_ms);

  cluster& cluster_;  // must outlive the producer
  std::string topic_;
  producer_config config_;
  partitioner partitioner_;
  std::map<std::int32_t, pending> batches_in_progress_;
  std::uint64_t acknowledged_ = 0, failed_ = 0, batches_ = 0;
};

enum class offset_reset { earliest, latest, none };

struct consumer_config {
  std::string group;
  assignor_kind assignor = assignor_kind::range;
  std::int64_t session_timeout_ms = 10'000;
  std::int64_t max_poll_interval_ms = 300'000;  // the rebalance timeout it asks for in JoinGroup
  std::size_t max_poll_records = 500;
  bool auto_commit = true;
  std::int64_t auto_commit_interval_ms = 5'000;
  offset_reset reset = offset_reset::latest;  // auto.offset.reset
  std::size_t fetch_min_bytes = 1;            // fetch.min.bytes: wait for at least this much...
  std::int64_t fetch_max_wait_ms = 500;       // ...but no longer than fetch.max.wait.ms
};

class consumer {
 public:
  consumer(cluster& c, std::vector<std::string> topics, consumer_config config);

  /// Joins (or rejoins after a rebalance) and fetches up to max.poll.records, round-robin over
  /// the assigned partitions; while the group is rebalancing it returns nothing (the join waits
  /// for the other members). Heartbeats and auto-commits as a side effect. An
  /// OFFSET_OUT_OF_RANGE with reset=none is returned as the error.
  std::expected<std::vector<std::pair<topic_partition, record>>, error_code> poll(std::int64_t now_ms);
  /// poll() without copies: f(partition, record) for each record, valid only during the call;
  /// returns how many.
  using record_visitor = std::function<void(const topic_partition&, const record&)>;
  std::expected<std::size_t, error_code> poll(std::int64_t now_ms, const record_visitor& f);
  /// A background heartbeat (the Java client sends them from its own thread between polls);
  /// REBALANCE_IN_PROGRESS means the next poll rejoins.
  error_code heartbeat(std::int64_t now_ms);
  /// Commits the current positions (synchronous commitSync()).
  error_code commit(std::int64_t now_ms);
  /// Commits one position explicitly: everything before `offset` is done.
  error_code commit(const topic_partition& tp, std::int64_t offset);
  /// Commits (with auto-commit) and leaves the group, which rebalances at once.
  void close(std::int64_t now_ms);
  /// What ends a fetch waiting at the leader: a record below the high watermark at an assigned
  /// position, or a rebalance to rejoin.
  bool fetch_ready() const;
  std::int64_t fetch_max_wait_ms() const { return config_.fetch_max_wait_ms; }
  /// True once the consumer has an assignment of the group's current generation.
  bool in_group() const { return generation_ >= 0 && join_tag_ == 0 && sync_tag_ == 0 && !rejoin_; }

  void seek(const topic_partition& tp, std::int64_t offset);
  void seek_to_beginning();
  void seek_to_end();
  void seek_to_timestamp(std::int64_t ts_ms);

  const std::vector<topic_partition>& assignment() const { return assigned_; }
  std::optional<std::int64_t> position(const topic_partition& tp) const;
  /// Log end minus position for an assigned partition.
  std::int64_t lag(const topic_partition& tp) const;
  std::int64_t total_lag() const;
  const std::string& member_id() const { return member_id_; }

 private:
  /// Drives JoinGroup/SyncGroup as far as the coordinator's replies allow; true when done.
  bool take_part(std::int64_t now_ms);
  void send_join(std::int64_t now_ms);
  void joined(const join_reply& r, std::int64_t now_ms);
  void synced(const sync_reply& r);
  /// The leader's work: every member's share by the group's assignor.
  std::map<std::string, std::string> assignments_for(const join_reply& r) const;
  consumer_group& group();
  std::int64_t starting_offset(const topic_partition& tp) const;
  /// Where auto.offset.reset moves a position that fell out of the log.
  std::int64_t reset_position(const topic_partition& tp) const;
  /// Bytes of committed records waiting at the current positions (what a fetch would return).
  std::size_t available_bytes() const;

  cluster& cluster_;  // must outlive the consumer
  std::vector<std::string> topics_;
  consumer_config config_;
  std::string member_id_;
  std::int32_t generation_ = -1;
  std::uint64_t join_tag_ = 0, sync_tag_ = 0;  // requests waiting for the coordinator's reply
  bool rejoin_ = false;                         // a heartbeat said the group is rebalancing
  std::vector<topic_partition> assigned_;
  std::map<topic_partition, std::int64_t> positions_;
  std::size_t next_partition_ = 0;
  std::int64_t last_commit_ms_ = 0;
  std::int64_t waiting_since_ms_ = -1;  // a fetch below fetch.min.bytes is being held back
  bool closed_ = false;
};

}  // namespace mqlab::broker::kafka
