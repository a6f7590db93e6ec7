// The Kafka broker's files, as Kafka lays out its log directories: each replica's log of each
// partition in `broker-B/TOPIC-P/`, segment files of record batches in the wire format (v2,
// CRC-32C) with markers for truncations and retention, the topics and their configs in
// `topics/`, and committed group offsets in `offsets/` (Kafka's __consumer_offsets: a log of
// commits, the newest per partition wins, rewritten as a snapshot when it grows). Every record
// of every file is framed with its own CRC (net/storage/segment_log.h). Beside each segment of a
// replica's log lie its offset and time indexes (net/kafka/segment_index.h); recovery rebuilds
// them as it replays the segment and rewrites those that disagree with it.
//
// The store mirrors the core: after each request the server calls persist(), which writes what
// the core changed (cluster::take_touched()). open() replays the files into a fresh core before
// the listeners start. When a write is durable is the flusher's policy; Kafka's default relies
// on replication and the page cache (`never`: SIGKILL loses nothing acknowledged, power loss may).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "broker/kafka/cluster.h"
#include "net/kafka/segment_index.h"
#include "net/storage/flusher.h"
#include "net/storage/segment_log.h"

namespace mqlab::net::kafka {

class service;

struct log_store_options {
  std::filesystem::path dir;                  // the data directory's kafka/ folder
  std::int32_t brokers = 1;                   // must match what the files were written by
  std::uint64_t segment_bytes = 64ull << 20;  // of the topics and offsets files; a replica's follow its topic's segment.bytes
  bool repair = true;                         // false: --check reads and reports, changes nothing
  /// log.flush.interval.messages: a replica's files are fsynced, before the reply, once this
  /// many records were appended to them since the last fsync (0: never on count).
  std::uint64_t flush_interval_messages = 0;
};

/// What recovery found and restored.
struct log_recovery {
  std::uint64_t topics = 0, replica_logs = 0, segments = 0;
  std::uint64_t records = 0;  // Kafka records, every replica's counted
  std::uint64_t offsets = 0;  // committed group offsets
  std::uint64_t torn_bytes = 0;  // cut from active segments' tails
  std::uint64_t indexes_rebuilt = 0;  // segments whose index files disagreed with them (or were missing)
  std::string corruption;        // damage that could not be repaired (empty: none)
};

class log_store {
 public:
  /// Replays the files into `svc`'s core (which must hold no topics yet) and its groups'
  /// committed offsets; the store then notes the core's changes. Fails on I/O errors and on
  /// files written by a different number of brokers; damage is in `report`.
  static std::expected<std::unique_ptr<log_store>, std::string> open(const log_store_options& options, service& svc,
                                                                     storage::flusher& flusher, std::int64_t now_ms,
                                                                     log_recovery& report);

  /// Writes what the core changed since the last call: new topics, appended records,
  /// truncations and retention. Returns whether anything was written.
  std::expected<bool, std::string> persist();
  /// A group committed an offset (service::record_commits).
  std::expected<void, std::string> committed(const std::string& group, const broker::kafka::topic_partition& tp,
                                             std::int64_t offset);
  /// Bytes of all files.
  std::uint64_t bytes() const;
  /// fsyncs log.flush.interval.messages asked for.
  std::uint64_t count_flushes() const { return count_flushes_; }

 private:
  log_store(log_store_options options, broker::kafka::cluster& core, storage::flusher& flusher)
      : options_(std::move(options)), core_(core), flusher_(flusher) {}
  /// What one replica's files hold: records from `start` to `end`.
  struct replica_files {
    storage::segment_log log;
    std::int64_t start = 0, end = 0;
    std::uint64_t unflushed = 0;  // records appended since the last fsync of log.flush.interval.messages
    // The active segment's indexes and their files (none before the first append).
    segment_index index{0};
    std::array<std::shared_ptr<storage::append_file>, 2> index_files;  // .index, .timeindex
  };
  using replica_key = std::tuple<std::string, std::int32_t, std::int32_t>;  // topic, partition, broker

  std::expected<void, std::string> restore_topics(log_recovery& report);
  std::expected<void, std::string> restore_logs(std::int64_t now_ms, log_recovery& report);
  std::expected<void, std::string> restore_offsets(service& svc, log_recovery& report);
  std::expected<replica_files*, std::string> files_of(const replica_key& key);
  std::expected<void, std::string> write_topic(const std::string& name);
  std::expected<void, std::string> sync_replica(const replica_key& key);
  std::expected<void, std::string> append_to(replica_files& f, std::string_view payload, std::uint64_t base);
  std::expected<void, std::string> follow_active_segment(replica_files& f);
  std::expected<void, std::string> open_index_files(replica_files& f);
  static std::expected<void, std::string> write_index(replica_files& f);
  std::expected<void, std::string> restore_indexes(replica_files& f, std::map<std::uint64_t, segment_index>& built,
                                                   log_recovery& report);
  std::expected<void, std::string> snapshot_offsets();
  std::filesystem::path replica_dir(const replica_key& key) const;

  log_store_options options_;
  broker::kafka::cluster& core_;
  storage::flusher& flusher_;
  std::optional<storage::segment_log> topics_, offsets_;
  std::set<std::string> written_topics_;
  std::map<replica_key, replica_files> replicas_;
  std::map<std::pair<std::string, broker::kafka::topic_partition>, std::int64_t> committed_;
  std::uint64_t commit_sequence_ = 0;
  std::uint64_t count_flushes_ = 0;
};

}  // namespace mqlab::net::kafka
