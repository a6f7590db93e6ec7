// The AMQP broker's files, laid out as RabbitMQ keeps a node's: `definitions` (durable
// exchanges, queues and bindings, rewritten whole and atomically when they change) and
// `messages/`, an append-only journal of persistent messages in durable queues — each joining
// with its properties, each delivery (a restart redelivers it) and each settlement (ack,
// dead-lettering, expiry, purge) — in CRC-framed segment files (net/storage/segment_log.h).
// A segment goes once every message pushed in it, and in the ones before it, is settled; when
// an unsettled message holds up the oldest segment while others pile up behind it, its live
// messages are written again at the end and the segment goes (RabbitMQ's compaction).
//
// The store mirrors the core: the server calls persist() after each input, which writes the
// journal the core kept (broker::keep_journal) and, if they changed, the definitions. open()
// restores a fresh core before the listener starts: definitions first, then the messages not
// yet settled, at their old places, redelivered if they had gone out.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/amqp/broker.h"
#include "net/storage/flusher.h"
#include "net/storage/segment_log.h"

namespace mqlab::net::amqp {

struct message_store_options {
  std::filesystem::path dir;                  // the data directory's amqp/ folder (a cluster node's own)
  std::uint64_t segment_bytes = 16ull << 20;  // of messages/
  std::size_t max_segments = 8;               // beyond, the oldest is compacted away
  bool repair = true;                         // false: --check reads and reports, changes nothing
};

struct message_recovery {
  std::uint64_t exchanges = 0, queues = 0, bindings = 0, messages = 0, segments = 0;
  std::uint64_t orphans = 0;     // messages of queues no longer defined, dropped
  std::uint64_t torn_bytes = 0;  // cut from the journal's tail
  std::string corruption;
};

class message_store {
 public:
  static std::expected<std::unique_ptr<message_store>, std::string> open(const message_store_options& options,
                                                                         broker::amqp::broker& core,
                                                                         storage::flusher& flusher, broker::instant now,
                                                                         message_recovery& report);
  /// Writes what the core changed since the last call; returns whether anything was written.
  std::expected<bool, std::string> persist();
  /// Bytes of the journal on disk.
  std::uint64_t bytes() const { return journal_->bytes(); }
  std::size_t segment_count() const { return journal_->segment_count(); }

 private:
  message_store(message_store_options options, broker::amqp::broker& core, storage::flusher& flusher)
      : options_(std::move(options)), core_(core), flusher_(flusher) {}
  /// A persistent message the disk still holds, and the segment its push record is in.
  struct live_message {
    broker::amqp::message_ptr msg;
    bool delivered = false;
    std::uint64_t segment = 0;
    std::uint64_t bytes = 0;  // of its push record
  };
  struct segment_use {
    std::uint64_t messages = 0, bytes = 0;
  };
  using queue_key = std::string;  // vhost '\0' queue
  using queue_messages = std::map<std::uint64_t, live_message>;  // by sequence

  std::expected<void, std::string> restore_definitions(broker::instant now, message_recovery& report);
  std::expected<void, std::string> restore_messages(broker::instant now, message_recovery& report);
  std::expected<void, std::string> write_definitions();
  std::expected<void, std::string> write(const broker::amqp::journal_entry& e);
  std::expected<void, std::string> append(const std::string& payload);
  /// `m` is now `msg`, pushed in the active segment.
  void keep(live_message& m, broker::amqp::message_ptr msg, bool delivered, std::uint64_t bytes);
  void settle(queue_messages& queue, queue_messages::iterator it);
  /// Deletes the settled segments at the front, compacting the oldest if a few live messages
  /// hold it (and every later one) up while more than max_segments pile up.
  std::expected<void, std::string> reclaim();
  std::expected<void, std::string> compact(std::uint64_t oldest);

  message_store_options options_;
  broker::amqp::broker& core_;
  storage::flusher& flusher_;
  std::optional<storage::segment_log> journal_;
  std::uint64_t next_base_ = 0;  // records written: segments are named by it
  std::uint64_t definitions_version_ = UINT64_MAX;
  std::string definitions_written_;
  std::unordered_map<queue_key, queue_messages> live_;
  std::map<std::uint64_t, segment_use> live_per_segment_;  // segment base -> the live pushes it holds
  std::vector<broker::amqp::journal_entry> scratch_;
};

}  // namespace mqlab::net::amqp
