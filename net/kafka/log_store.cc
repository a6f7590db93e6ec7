// Kafka's files: writing what the core changed, and replaying it into a fresh core.
#include "net/kafka/log_store.h"

#include <algorithm>
#include <array>
#include <charconv>

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
// A segment's two index files, as Kafka names them, and what each holds.
constexpr std::array<std::string_view, 2> index_suffixes{".index", ".timeindex"};
std::array<std::string_view, 2> index_contents(const segment_index& index) {
  return {index.offset_bytes(), index.time_bytes()};
}

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

/// What a record of a replica's log, framed at `position` of its segment, does to the segment's
/// indexes: the write path and recovery both go through here, so they build the same index.
void index_record(segment_index& index, std::string_view payload, std::uint64_t position) {
  if (payload.empty()) return;
  if (payload[0] == batch_record) {
    if (const auto span = read_batch_span(payload.substr(1))) {
      index.appended(*span, position, storage::record_header_bytes + payload.size());
    }
  } else if (payload[0] == truncation_record && payload.size() >= 1 + sizeof(std::int64_t)) {
    index.truncate(load_be<std::int64_t>(payload.data() + 1));
  }
}

/// Makes an index file hold `bytes`. Its old contents are a prefix of them (the index grew) or
/// they of its old contents (it was cut back), since each cut is written before anything follows.
std::expected<void, std::string> write_index_file(storage::append_file& file, std::string_view bytes) {
  if (file.size() > bytes.size()) {
    if (auto ok = file.truncate(bytes.size()); !ok) return ok;
  }
  if (file.size() < bytes.size()) return file.append(bytes.substr(file.size()));
  return {};
}

std::string read_or_empty(const fs::path& path) {
  auto bytes = storage::read_file(path);
  return bytes ? std::move(*bytes) : std::string();
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

/// Opens a segment log whose records `apply` parses (given each one's segment, position and
/// payload); a record that does not parse (its CRC
/// matched, so it was written so) is corruption.
template <typename Apply>
std::expected<storage::segment_log, std::string> replay(const fs::path& dir, std::uint64_t segment_bytes, bool repair,
                                                        log_recovery& report, Apply apply) {
  storage::recovery_report r;
  std::string damage;
  auto log = storage::segment_log::open(
      dir, segment_bytes,
      [&](std::uint64_t base, std::uint64_t position, std::string_view payload) {
        if (!damage.empty()) return;
        try {
          apply(base, position, payload);
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
  auto log = replay(options_.dir / "topics", options_.segment_bytes, options_.repair, report, [&](auto, auto, std::string_view p) {
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
        std::map<std::uint64_t, segment_index> built;
        auto log = replay(replica_dir(key), core_.config(name).log.segment_bytes, options_.repair, report,
                          [&](std::uint64_t base, std::uint64_t position, std::string_view payload) {
                            replayed.apply(payload);
                            const auto index = built.try_emplace(base, static_cast<std::int64_t>(base)).first;
                            index_record(index->second, payload, position);
                          });
        if (!log) return std::unexpected(log.error());
        auto& files = replicas_.emplace(key, replica_files{std::move(*log), replayed.start, replayed.end}).first->second;
        if (auto ok = restore_indexes(files, built, report); !ok) return ok;
        report.records += replayed.records.size();
        core_.restore_log(name, p, b, replayed.start, std::move(replayed.records));
        ++report.replica_logs;
      }
      core_.restored(name, p, now_ms);
    }
  }
  return {};
}

std::expected<void, std::string> log_store::restore_indexes(replica_files& f,
                                                            std::map<std::uint64_t, segment_index>& built,
                                                            log_recovery& report) {
  const auto bases = f.log.bases();
  for (std::size_t i = 0; i < bases.size(); ++i) {
    auto& index = built.try_emplace(bases[i], static_cast<std::int64_t>(bases[i])).first->second;
    if (i + 1 < bases.size()) index.close();  // every segment but the active one
    const auto contents = index_contents(index);
    auto path = [&](std::size_t k) { return f.log.segment_path(bases[i], index_suffixes[k]); };
    if (read_or_empty(path(0)) == contents[0] && read_or_empty(path(1)) == contents[1]) continue;
    ++report.indexes_rebuilt;
    if (!options_.repair) continue;
    for (std::size_t k = 0; k < index_suffixes.size(); ++k) {
      if (auto ok = storage::write_atomically(path(k), contents[k]); !ok) return ok;
    }
  }
  if (!options_.repair) return {};
  // Indexes whose segment is gone (deleted just before a crash) go too.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(f.log.dir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (std::none_of(index_suffixes.begin(), index_suffixes.end(), [&](auto suffix) { return name.ends_with(suffix); })) {
      continue;
    }
    std::uint64_t base = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), base).ec == std::errc{} &&
        std::find(bases.begin(), bases.end(), base) == bases.end()) {
      fs::remove(entry.path(), ec);
    }
  }
  if (bases.empty()) return {};
  f.index = std::move(built.at(bases.back()));
  return open_index_files(f);
}

std::expected<void, std::string> log_store::restore_offsets(service& svc, log_recovery& report) {
  auto log = replay(options_.dir / "offsets", options_.segment_bytes, options_.repair, report, [&](auto, auto, std::string_view p) {
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
                                       [](auto, auto, auto) {}, ignored);
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
    if (auto ok = append_to(f, marker(truncation_record, cut), static_cast<std::uint64_t>(f.end)); !ok) return ok;
    f.end = std::max(cut, f.start);
  }
  if (log.log_start_offset() > f.start) {
    if (auto ok = append_to(f, marker(start_record, log.log_start_offset()), static_cast<std::uint64_t>(f.end)); !ok) {
      return ok;
    }
    f.start = log.log_start_offset();
    f.end = std::max(f.end, f.start);
    for (const std::uint64_t gone : f.log.drop_segments_below(static_cast<std::uint64_t>(f.start))) {
      for (const auto suffix : index_suffixes) {
        std::error_code ignored;  // an index already gone is what we wanted
        fs::remove(f.log.segment_path(gone, suffix), ignored);
      }
    }
  }
  if (log.log_end_offset() > f.end) {
    std::string payload(1, batch_record);
    batch_writer batch(payload);
    std::expected<void, std::string> written;
    auto write_batch = [&] {
      batch.finish();
      const auto base = static_cast<std::uint64_t>(load_be<std::int64_t>(payload.data() + 1));
      if (written) written = append_to(f, payload, base);
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
  if (f.log.bytes() == before) return {};
  flusher_.wrote(f.log.active());
  return write_index(f);
}

/// Appends a record to a replica's log and notes it in its segment's index; a truncation is
/// written to the index files at once, so that they only ever grow between cuts.
std::expected<void, std::string> log_store::append_to(replica_files& f, std::string_view payload, std::uint64_t base) {
  if (auto ok = f.log.append(payload, base); !ok) return ok;
  if (auto ok = follow_active_segment(f); !ok) return ok;
  index_record(f.index, payload, f.log.last_position());
  return payload[0] == truncation_record ? write_index(f) : std::expected<void, std::string>{};
}

/// When the log has rolled, the closed segment's index gets its last entry and a new one starts.
std::expected<void, std::string> log_store::follow_active_segment(replica_files& f) {
  const auto base = static_cast<std::int64_t>(f.log.active_base());
  if (f.index_files[0] && f.index.base() == base) return {};
  if (f.index_files[0]) {
    f.index.close();
    if (auto ok = write_index(f); !ok) return ok;
  }
  f.index = segment_index(base);
  if (auto ok = open_index_files(f); !ok) return ok;
  return write_index(f);  // cuts whatever a file of that name held
}

std::expected<void, std::string> log_store::open_index_files(replica_files& f) {
  for (std::size_t k = 0; k < index_suffixes.size(); ++k) {
    auto file = storage::append_file::open(f.log.segment_path(static_cast<std::uint64_t>(f.index.base()), index_suffixes[k]));
    if (!file) return std::unexpected(file.error());
    f.index_files[k] = std::move(*file);
  }
  return {};
}

std::expected<void, std::string> log_store::write_index(replica_files& f) {
  const auto contents = index_contents(f.index);
  for (std::size_t k = 0; k < index_suffixes.size(); ++k) {
    if (auto ok = write_index_file(*f.index_files[k], contents[k]); !ok) return ok;
  }
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
