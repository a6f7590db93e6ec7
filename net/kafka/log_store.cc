// Kafka's files: writing what the core changed, and replaying it into a fresh core.
#include "net/kafka/log_store.h"

#include <algorithm>

#include <fmt/format.h>

#include "net/byte_order.h"
#include "net/kafka/record_batch.h"
#include "net/kafka/service.h"
#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

namespace fs = std::filesystem;
using broker::kafka::topic_partition;

namespace {

// The first byte of each record says what it is.
constexpr char brokers_record = 'N', topic_record = 'C';           // topics/
constexpr char batch_record = 'B', truncation_record = 'T', start_record = 'S';  // a replica's log
constexpr char offset_record = 'O';                                 // offsets/

constexpr std::size_t batch_target_bytes = 1 << 20;

std::string topic_payload(const std::string& name, const broker::kafka::topic_config& c) {
  std::string out(1, topic_record);
  wire_writer w(out);
  w.string(name);
  w.int32(c.partitions);
  w.int32(c.replication_factor);
  w.int32(c.min_insync_replicas);
  w.boolean(c.unclean_leader_election);
  w.int64(static_cast<std::int64_t>(c.log.segment_bytes));
  w.int64(c.log.retention_ms.value_or(-1));
  w.int64(c.log.retention_bytes.value_or(-1));
  w.boolean(c.log.compact);
  return out;
}

std::pair<std::string, broker::kafka::topic_config> read_topic(wire_reader& in) {
  std::pair<std::string, broker::kafka::topic_config> t;
  t.first = std::string(in.string());
  auto& c = t.second;
  c.partitions = in.int32();
  c.replication_factor = in.int32();
  c.min_insync_replicas = in.int32();
  c.unclean_leader_election = in.boolean();
  c.log.segment_bytes = static_cast<std::size_t>(std::max<std::int64_t>(in.int64(), 1));
  if (const auto ms = in.int64(); ms >= 0) c.log.retention_ms = ms;
  if (const auto bytes = in.int64(); bytes >= 0) c.log.retention_bytes = bytes;
  c.log.compact = in.boolean();
  return t;
}

std::string offset_payload(const std::string& group, const topic_partition& tp, std::int64_t offset) {
  std::string out(1, offset_record);
  wire_writer w(out);
  w.string(group);
  w.string(tp.topic);
  w.int32(tp.partition);
  w.int64(offset);
  return out;
}

std::string marker(char kind, std::int64_t offset) {
  std::string out(1, kind);
  wire_writer(out).int64(offset);
  return out;
}

/// A replica's records as its files tell them, replayed in order.
struct replayed_log {
  std::vector<record> records;
  std::int64_t start = 0, end = 0;

  void apply(std::string_view payload) {
    wire_reader in(payload.substr(1));
    switch (payload.empty() ? '\0' : payload[0]) {
      case batch_record: {
        auto batch = decode_record_set(payload.substr(1), 0);
        if (!batch) throw wire_error{batch.error().text};
        for (auto& r : *batch) {
          if (r.offset < end) continue;
          end = r.offset + 1;
          records.push_back(std::move(r));
        }
        break;
      }
      case truncation_record: {
        const std::int64_t at = in.int64();
        std::erase_if(records, [&](const record& r) { return r.offset >= at; });
        end = std::min(end, std::max(at, start));
        break;
      }
      case start_record: {
        const std::int64_t at = in.int64();
        std::erase_if(records, [&](const record& r) { return r.offset < at; });
        start = std::max(start, at);
        end = std::max(end, start);
        break;
      }
      default: throw wire_error{"an unknown record kind"};
    }
  }
};

/// Opens a segment log whose records `apply` parses; a record that does not parse (its CRC
/// matched, so it was written so) is corruption.
template <typename Apply>
std::expected<storage::segment_log, std::string> replay(const fs::path& dir, std::uint64_t segment_bytes, bool repair,
                                                        log_recovery& report, Apply apply) {
  storage::recovery_report r;
  std::string damage;
  auto log = storage::segment_log::open(
      dir, segment_bytes,
      [&](std::uint64_t, std::string_view payload) {
        if (!damage.empty()) return;
        try {
          apply(payload);
        } catch (const wire_error& e) {
          damage = fmt::format("{}: a record that does not parse ({})", dir.string(), e.text);
        }
      },
      r, repair);
  report.segments += r.segments;
  report.torn_bytes += r.torn_bytes;
  if (report.corruption.empty()) report.corruption = !r.corruption.empty() ? r.corruption : damage;
  return log;
}

}  // namespace

std::expected<std::unique_ptr<log_store>, std::string> log_store::open(const log_store_options& options, service& svc,
                                                                       storage::flusher& flusher, std::int64_t now_ms,
                                                                       log_recovery& report) {
  std::unique_ptr<log_store> store(new log_store(options, svc.core(), flusher));
  if (auto ok = store->restore_topics(report); !ok) return std::unexpected(ok.error());
  if (auto ok = store->restore_logs(now_ms, report); !ok) return std::unexpected(ok.error());
  if (auto ok = store->restore_offsets(svc, report); !ok) return std::unexpected(ok.error());
  store->core_.note_touched(true);
  svc.record_commits([s = store.get()](const std::string& group, const topic_partition& tp, std::int64_t offset) {
    return s->committed(group, tp, offset);
  });
  return store;
}

std::expected<void, std::string> log_store::restore_topics(log_recovery& report) {
  std::optional<std::int32_t> brokers;
  std::vector<std::pair<std::string, broker::kafka::topic_config>> topics;
  auto log = replay(options_.dir / "topics", options_.segment_bytes, options_.repair, report, [&](std::string_view p) {
    wire_reader in(p.substr(1));
    if (!p.empty() && p[0] == brokers_record) brokers = in.int32();
    else if (!p.empty() && p[0] == topic_record) topics.push_back(read_topic(in));
    else throw wire_error{"an unknown record kind"};
  });
  if (!log) return std::unexpected(log.error());
  topics_.emplace(std::move(*log));
  if (brokers && *brokers != options_.brokers) {
    return std::unexpected(fmt::format("{} holds the logs of {} Kafka brokers, not {}: start with --cluster {}",
                                       options_.dir.string(), *brokers, options_.brokers, *brokers));
  }
  if (!brokers && options_.repair) {
    if (auto ok = topics_->append([&] {
          std::string out(1, brokers_record);
          wire_writer(out).int32(options_.brokers);
          return out;
        }(), 0);
        !ok) {
      return ok;
    }
    flusher_.wrote(topics_->active());
  }
  for (const auto& [name, config] : topics) {
    if (core_.create_topic(name, config) != broker::kafka::error_code::none) {
      if (report.corruption.empty()) report.corruption = fmt::format("topic {} cannot be restored", name);
      continue;
    }
    written_topics_.insert(name);
    ++report.topics;
  }
  return {};
}

fs::path log_store::replica_dir(const replica_key& key) const {
  return options_.dir / fmt::format("broker-{}", std::get<2>(key)) /
         fmt::format("{}-{}", std::get<0>(key), std::get<1>(key));
}

std::expected<void, std::string> log_store::restore_logs(std::int64_t now_ms, log_recovery& report) {
  for (const auto& name : written_topics_) {
    for (std::int32_t p = 0; p < core_.partitions(name); ++p) {
      for (const std::int32_t b : core_.partition(name, p).replicas) {
        const replica_key key{name, p, b};
        replayed_log replayed;
        auto log = replay(replica_dir(key), core_.config(name).log.segment_bytes, options_.repair, report,
                          [&](std::string_view payload) { replayed.apply(payload); });
        if (!log) return std::unexpected(log.error());
        replicas_.emplace(key, replica_files{std::move(*log), replayed.start, replayed.end});
        report.records += replayed.records.size();
        core_.restore_log(name, p, b, replayed.start, std::move(replayed.records));
        ++report.replica_logs;
      }
      core_.restored(name, p, now_ms);
    }
  }
  return {};
}

std::expected<void, std::string> log_store::restore_offsets(service& svc, log_recovery& report) {
  auto log = replay(options_.dir / "offsets", options_.segment_bytes, options_.repair, report, [&](std::string_view p) {
    if (p.empty() || p[0] != offset_record) throw wire_error{"an unknown record kind"};
    wire_reader in(p.substr(1));
    std::string group(in.string());
    topic_partition tp{std::string(in.string()), in.int32()};
    committed_[{std::move(group), std::move(tp)}] = in.int64();
  });
  if (!log) return std::unexpected(log.error());
  offsets_.emplace(std::move(*log));
  for (const auto& [key, offset] : committed_) {
    if (!core_.has_topic(key.second.topic)) continue;
    (void)svc.core().groups().group(key.first).commit("", -1, key.second, offset);
    ++report.offsets;
  }
  commit_sequence_ = committed_.size();
  return {};
}

std::expected<log_store::replica_files*, std::string> log_store::files_of(const replica_key& key) {
  auto it = replicas_.find(key);
  if (it != replicas_.end()) return &it->second;
  storage::recovery_report ignored;
  auto log = storage::segment_log::open(replica_dir(key), core_.config(std::get<0>(key)).log.segment_bytes,
                                       [](auto, auto) {}, ignored);
  if (!log) return std::unexpected(log.error());
  return &replicas_.emplace(key, replica_files{std::move(*log), 0, 0}).first->second;
}

std::expected<void, std::string> log_store::write_topic(const std::string& name) {
  if (auto ok = topics_->append(topic_payload(name, core_.config(name)), 0); !ok) return ok;
  flusher_.wrote(topics_->active());
  written_topics_.insert(name);
  return {};
}

std::expected<bool, std::string> log_store::persist() {
  const std::uint64_t before = flusher_.written();
  if (core_.topic_count() != written_topics_.size()) {
    for (const auto& name : core_.topic_names()) {
      if (written_topics_.contains(name)) continue;
      if (auto ok = write_topic(name); !ok) return std::unexpected(ok.error());
    }
  }
  for (auto& tp : core_.take_touched()) {
    for (const std::int32_t b : core_.partition(tp.topic, tp.partition).replicas) {
      if (auto ok = sync_replica({tp.topic, tp.partition, b}); !ok) return std::unexpected(ok.error());
    }
  }
  return flusher_.written() != before;
}

std::expected<void, std::string> log_store::sync_replica(const replica_key& key) {
  const auto& [topic, p, b] = key;
  auto files = files_of(key);
  if (!files) return std::unexpected(files.error());
  replica_files& f = **files;
  const std::uint64_t before = f.log.bytes();
  const auto& log = core_.partition(topic, p).logs.at(b);
  if (const std::int64_t cut = core_.take_truncation({topic, p}, b); cut < f.end) {
    if (auto ok = f.log.append(marker(truncation_record, cut), static_cast<std::uint64_t>(f.end)); !ok) return ok;
    f.end = std::max(cut, f.start);
  }
  if (log.log_start_offset() > f.start) {
    if (auto ok = f.log.append(marker(start_record, log.log_start_offset()), static_cast<std::uint64_t>(f.end)); !ok) {
      return ok;
    }
    f.start = log.log_start_offset();
    f.end = std::max(f.end, f.start);
    f.log.drop_segments_below(static_cast<std::uint64_t>(f.start));
  }
  if (log.log_end_offset() > f.end) {
    std::string payload(1, batch_record);
    batch_writer batch(payload);
    std::expected<void, std::string> written;
    auto write_batch = [&] {
      batch.finish();
      const auto base = static_cast<std::uint64_t>(load_be<std::int64_t>(payload.data() + 1));
      if (written) written = f.log.append(payload, base);
      payload.resize(1);
    };
    (void)log.visit(std::max(f.end, log.log_start_offset()), SIZE_MAX, INT64_MAX, [&](const record& r) {
      batch.add(r);
      if (batch.size() >= batch_target_bytes) write_batch();
    });
    if (batch.records() > 0) write_batch();
    if (!written) return written;
    f.unflushed += static_cast<std::uint64_t>(log.log_end_offset() - f.end);
    f.end = log.log_end_offset();
    if (options_.flush_interval_messages > 0 && f.unflushed >= options_.flush_interval_messages) {
      // As Kafka's log does on its append path: the produce reply waits for this fsync.
      f.unflushed = 0;
      ++count_flushes_;
      if (auto ok = f.log.active()->sync(); !ok) return ok;
    }
  }
  if (f.log.bytes() != before) flusher_.wrote(f.log.active());
  return {};
}

std::expected<void, std::string> log_store::committed(const std::string& group, const topic_partition& tp,
                                                      std::int64_t offset) {
  committed_[{group, tp}] = offset;
  const std::string out = offset_payload(group, tp, offset);
  if (auto ok = offsets_->append(out, ++commit_sequence_); !ok) return ok;
  flusher_.wrote(offsets_->active());
  // Kafka compacts __consumer_offsets; here, once the log holds several times what is live,
  // the live offsets are written as a snapshot in a fresh segment and the older ones go.
  if (offsets_->bytes() > std::max<std::uint64_t>(options_.segment_bytes, 4 * committed_.size() * out.size())) {
    return snapshot_offsets();
  }
  return {};
}

std::expected<void, std::string> log_store::snapshot_offsets() {
  const std::uint64_t base = ++commit_sequence_;
  if (auto ok = offsets_->roll(base); !ok) return ok;
  for (const auto& [key, offset] : committed_) {
    if (auto ok = offsets_->append(offset_payload(key.first, key.second, offset), base); !ok) return ok;
  }
  flusher_.wrote(offsets_->active());
  offsets_->drop_segments_below(base);
  return {};
}

std::uint64_t log_store::bytes() const {
  std::uint64_t total = topics_->bytes() + offsets_->bytes();
  for (const auto& [key, f] : replicas_) total += f.log.bytes();
  return total;
}

}  // namespace mqlab::net::kafka
