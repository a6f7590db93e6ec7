// Replication and leader election. Replicas of partition p sit on brokers p, p+1, ... (mod N),
// so leaders spread over the cluster as Kafka's default placement does.
#include "broker/kafka/cluster.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace mqlab::broker::kafka {

cluster::cluster(std::int32_t brokers, std::int64_t replica_lag_time_max_ms)
    : brokers_(brokers),
      lag_max_ms_(replica_lag_time_max_ms),
      up_(static_cast<std::size_t>(brokers), true),
      sessions_(static_cast<std::size_t>(brokers), 0) {
  const auto admin = zk_.open_session(INT64_MAX / 2, 0);
  for (const char* path : {"/brokers", "/brokers/ids", "/brokers/topics"}) {
    (void)zk_.create(admin, path, "", coordination::create_mode::persistent);
  }
  for (std::int32_t b = 0; b < brokers; ++b) register_broker(b);
  elect_controller();
}

void cluster::register_broker(std::int32_t broker) {
  // Sessions are kept alive by the cluster itself; a crash closes them explicitly.
  sessions_[static_cast<std::size_t>(broker)] = zk_.open_session(INT64_MAX / 2, 0);
  (void)zk_.create(sessions_[static_cast<std::size_t>(broker)], fmt::format("/brokers/ids/{}", broker),
                   fmt::format("localhost:{}", 9092 + broker), coordination::create_mode::ephemeral);
}

void cluster::elect_controller() {
  // Every live broker tries to create the ephemeral /controller; the first one wins.
  for (std::int32_t b = 0; b < brokers_; ++b) {
    if (!up_[static_cast<std::size_t>(b)]) continue;
    if (zk_.create(sessions_[static_cast<std::size_t>(b)], "/controller", std::to_string(b),
                   coordination::create_mode::ephemeral)) {
      return;
    }
  }
}

std::int32_t cluster::controller() {
  auto node = zk_.get("/controller");
  return node ? std::stoi(node->first) : -1;
}

void cluster::publish_state(const std::string& topic, std::int32_t p, const partition_state& ps) {
  constexpr coordination::session_id admin = 0;  // persistent nodes need no session
  const std::string base = fmt::format("/brokers/topics/{}", topic);
  (void)zk_.create(admin, base, "", coordination::create_mode::persistent);
  (void)zk_.create(admin, base + "/partitions", "", coordination::create_mode::persistent);
  const std::string dir = fmt::format("{}/partitions/{}", base, p);
  (void)zk_.create(admin, dir, "", coordination::create_mode::persistent);
  const std::string state = fmt::format("leader={} isr={} epoch={}", ps.leader, fmt::join(ps.isr, ","), ps.leader_epoch);
  if (!zk_.set(dir + "/state", state)) (void)zk_.create(admin, dir + "/state", state, coordination::create_mode::persistent);
}

error_code cluster::create_topic(const std::string& name, const topic_config& config, std::int64_t now_ms) {
  if (topics_.contains(name)) return error_code::topic_already_exists;
  if (config.partitions < 1) return error_code::invalid_partitions;
  if (config.replication_factor < 1 || config.replication_factor > brokers_) return error_code::invalid_replication_factor;
  topic_state t{config, {}};
  for (std::int32_t p = 0; p < config.partitions; ++p) {
    partition_state ps;
    ps.process = (static_cast<std::uint64_t>(topics_.size()) + 1) << 32 | static_cast<std::uint32_t>(p);
    for (std::int32_t i = 0; i < config.replication_factor; ++i) {
      const std::int32_t b = (p + i) % brokers_;
      ps.replicas.push_back(b);
      ps.logs.emplace(b, partition_log(config.log));
      ps.caught_up_ms[b] = now_ms;
      if (up_[static_cast<std::size_t>(b)]) ps.isr.insert(b);
    }
    elect(ps, config);
    publish_state(name, p, ps);
    t.partitions.push_back(std::move(ps));
  }
  topics_.emplace(name, std::move(t));
  return error_code::none;
}

std::int32_t cluster::partitions(const std::string& topic) const {
  const topic_state* t = this->topic(topic);
  return t == nullptr ? 0 : t->config.partitions;
}

const cluster::topic_state* cluster::topic(const std::string& name) const {
  if (recent_.entry == nullptr || recent_.entry->first != name) {
    auto it = topics_.find(name);
    if (it == topics_.end()) return nullptr;
    recent_.entry = &*it;
  }
  return &recent_.entry->second;
}

std::int64_t cluster::total_partitions() const {
  std::int64_t total = 0;
  for (const auto& [name, t] : topics_) total += t.config.partitions;
  return total;
}

std::vector<std::string> cluster::topic_names() const {
  std::vector<std::string> names;
  for (const auto& [name, t] : topics_) names.push_back(name);
  return names;
}

partition_state* cluster::find(const std::string& topic, std::int32_t p) {
  topic_state* t = this->topic(topic);
  if (t == nullptr || p < 0 || p >= t->config.partitions) return nullptr;
  if (noting_ && !all_touched_) touched_.insert({topic, p});  // every caller of this one may change logs
  return &t->partitions[static_cast<std::size_t>(p)];
}

std::vector<topic_partition> cluster::take_touched() {
  std::vector<topic_partition> out;
  if (all_touched_) {
    for (const auto& [name, t] : topics_) {
      for (std::int32_t p = 0; p < t.config.partitions; ++p) out.push_back({name, p});
    }
  } else {
    out.assign(touched_.begin(), touched_.end());
  }
  touched_.clear();
  all_touched_ = false;
  return out;
}

void cluster::restore_log(const std::string& topic, std::int32_t p, std::int32_t broker, std::int64_t start_offset,
                          std::vector<record> records) {
  partition_log& log = topics_.at(topic).partitions.at(static_cast<std::size_t>(p)).logs.at(broker);
  log.restart_at(start_offset);
  for (auto& r : records) log.append_replica(std::move(r));
  (void)log.take_truncation();  // restoring is not a change to mirror back
}

void cluster::restored(const std::string& topic, std::int32_t p, std::int64_t now_ms) {
  auto& t = topics_.at(topic);
  partition_state& ps = t.partitions.at(static_cast<std::size_t>(p));
  std::int64_t longest = 0;
  for (const auto& [b, log] : ps.logs) longest = std::max(longest, log.log_end_offset());
  ps.isr.clear();
  for (const auto& [b, log] : ps.logs) {
    if (log.log_end_offset() == longest && up_[static_cast<std::size_t>(b)]) ps.isr.insert(b);
    ps.caught_up_ms[b] = now_ms;
  }
  ps.leader = -1;
  elect(ps, t.config);
  ps.high_watermark = ps.acknowledged_end = ps.leader < 0 ? 0 : longest;
  publish_state(topic, p, ps);
}

const partition_state& cluster::partition(const std::string& topic, std::int32_t p) const {
  const topic_state* t = this->topic(topic);
  if (t == nullptr) throw std::out_of_range("no topic " + topic);
  return t->partitions.at(static_cast<std::size_t>(p));
}

std::int64_t cluster::log_end_offset(const std::string& topic, std::int32_t p) const {
  const auto& ps = partition(topic, p);
  return ps.leader < 0 ? ps.high_watermark : ps.logs.at(ps.leader).log_end_offset();
}

void cluster::charge_fetch(std::int32_t leader, std::size_t records) const {
  // Kafka serves fetches from the page cache with sendfile: the bytes cost the NIC, not the CPU
  // (a profile of a broker that encodes each record it serves prices record_fetched).
  const work_site site{node_id{static_cast<std::uint32_t>(leader)}, 0};
  meter_.charge(site, work_kind::fetch);
  meter_.charge(site, work_kind::record_fetched, static_cast<std::uint32_t>(records));
}

void cluster::charge_append(const partition_state& ps, std::int32_t replica, std::span<const record> records,
                            bool copied) const {
  if (!meter_.enabled()) return;
  std::uint64_t bytes = 0;
  for (const auto& r : records) bytes += r.size_bytes();
  charge_append(ps, replica, records.size(), bytes, copied);
}

void cluster::charge_append(const partition_state& ps, std::int32_t replica, std::size_t records, std::uint64_t bytes,
                            bool copied) const {
  if (!meter_.enabled()) return;
  // Kafka appends to the page cache: the disk takes the bytes, no fsync (flush.messages is off).
  const work_site site{node_id{static_cast<std::uint32_t>(replica)}, ps.process};
  meter_.charge(site, work_kind::record_appended, static_cast<std::uint32_t>(records));
  meter_.charge(site, work_kind::bytes, static_cast<std::uint32_t>(bytes));
  meter_.charge(site, work_kind::persist_bytes, static_cast<std::uint32_t>(bytes));
  if (copied) meter_.charge({site.node, 0}, work_kind::record_replicated, static_cast<std::uint32_t>(records));
}

void cluster::charge_memory(partition_state& ps, std::int32_t replica) {
  if (!meter_.enabled()) return;
  // A log's growth since it was last metered, net of what retention or truncation freed there
  // meanwhile: freed memory is what the next records take, so only growth past the peak is new.
  const auto b = static_cast<std::size_t>(replica);
  if (memory_.size() <= b) memory_.resize(b + 1), memory_peak_.resize(b + 1);
  std::uint64_t& was = ps.memory[replica];
  const std::uint64_t now = ps.logs.at(replica).memory_bytes();
  memory_[b] = memory_[b] + now - was;
  was = now;
  if (memory_[b] <= memory_peak_[b]) return;
  meter_.charge({node_id{static_cast<std::uint32_t>(replica)}, 0}, work_kind::memory_grown,
                static_cast<std::uint32_t>(memory_[b] - memory_peak_[b]));
  memory_peak_[b] = memory_[b];
}

void cluster::update_high_watermark(partition_state& ps) {
  if (ps.leader < 0) return;
  std::int64_t hw = ps.logs.at(ps.leader).log_end_offset();
  for (std::int32_t r : ps.isr) hw = std::min(hw, ps.logs.at(r).log_end_offset());
  ps.high_watermark = std::max(ps.high_watermark, hw);
}

std::int64_t cluster::align(partition_state& ps, std::int32_t follower) {
  partition_log& from = ps.logs.at(ps.leader);
  partition_log& to = ps.logs.at(follower);
  // A follower ahead of its (new) leader holds records the leader never had: truncate them.
  if (to.log_end_offset() > from.log_end_offset()) {
    truncated_ += static_cast<std::uint64_t>(to.log_end_offset() - from.log_end_offset());
    to.truncate_to(from.log_end_offset());
  }
  if (to.log_end_offset() < from.log_start_offset()) to.restart_at(from.log_start_offset());
  return std::max(to.log_end_offset(), from.log_start_offset());
}

partition_log::slice cluster::lacking(partition_state& ps, std::int32_t follower, std::size_t max_records) {
  auto records = ps.logs.at(ps.leader).share(align(ps, follower), max_records);
  return records ? std::move(*records) : partition_log::slice{};
}

void cluster::catch_up(partition_state& ps, std::int32_t follower, std::int64_t now_ms) {
  (void)align(ps, follower);
  inter_broker_bytes_ += ps.logs.at(follower).replicate_from(ps.logs.at(ps.leader));
  note_caught_up(ps, follower, now_ms);
}

void cluster::note_caught_up(partition_state& ps, std::int32_t follower, std::int64_t now_ms) {
  if (ps.logs.at(follower).log_end_offset() < ps.logs.at(ps.leader).log_end_offset()) return;
  ps.caught_up_ms[follower] = now_ms;
  ps.isr.insert(follower);  // caught up: back in sync
}

std::expected<partition_log::slice, error_code> cluster::follower_fetch(const std::string& topic, std::int32_t p,
                                                                       std::int32_t follower, std::size_t max_records,
                                                                       std::int64_t now_ms) {
  partition_state* ps = find(topic, p);
  if (ps == nullptr) return std::unexpected(error_code::unknown_topic_or_partition);
  if (ps->leader < 0) return std::unexpected(error_code::leader_not_available);
  if (follower == ps->leader || !ps->logs.contains(follower) || !up_.at(static_cast<std::size_t>(follower))) {
    return std::unexpected(error_code::not_leader_or_follower);
  }
  auto records = lacking(*ps, follower, max_records);
  charge_fetch(ps->leader, records.size());
  if (records.empty()) {
    note_caught_up(*ps, follower, now_ms);
    update_high_watermark(*ps);
  }
  return records;
}

partition_state* cluster::follower_of(const std::string& topic, std::int32_t p, std::int32_t follower) {
  partition_state* ps = find(topic, p);
  return ps == nullptr || ps->leader < 0 || follower == ps->leader || !ps->logs.contains(follower) ? nullptr : ps;
}

void cluster::follower_append(const std::string& topic, std::int32_t p, std::int32_t follower,
                              std::vector<record> records, std::int64_t now_ms) {
  partition_state* ps = follower_of(topic, p, follower);
  if (ps == nullptr) return;
  charge_append(*ps, follower, records, true);
  partition_log& to = ps->logs.at(follower);
  for (auto& r : records) {
    if (r.offset < to.log_end_offset()) continue;  // a stale or overlapping fetch
    inter_broker_bytes_ += r.size_bytes();
    to.append_replica(std::move(r));
  }
  charge_memory(*ps, follower);
  appended(*ps, follower, now_ms);
}

void cluster::follower_append(const std::string& topic, std::int32_t p, std::int32_t follower,
                              const partition_log::slice& records, std::int64_t now_ms) {
  partition_state* ps = follower_of(topic, p, follower);
  if (ps == nullptr) return;
  charge_append(*ps, follower, records.size(), records.bytes(), true);
  inter_broker_bytes_ += ps->logs.at(follower).append_shared(records);
  charge_memory(*ps, follower);
  appended(*ps, follower, now_ms);
}

void cluster::appended(partition_state& ps, std::int32_t follower, std::int64_t now_ms) {
  note_caught_up(ps, follower, now_ms);
  update_high_watermark(ps);
}

void cluster::expire_lagging(partition_state& ps, std::int64_t now_ms) {
  ps.caught_up_ms[ps.leader] = now_ms;
  std::erase_if(ps.isr, [&](std::int32_t r) { return r != ps.leader && now_ms - ps.caught_up_ms[r] > lag_max_ms_; });
  update_high_watermark(ps);
}

void cluster::expire_lagging(std::int64_t now_ms) {
  for (auto& [name, t] : topics_) {
    for (auto& ps : t.partitions) {
      if (ps.leader >= 0) expire_lagging(ps, now_ms);
    }
  }
}

void cluster::acknowledge(const std::string& topic, std::int32_t p, std::int64_t end) {
  if (partition_state* ps = find(topic, p)) ps->acknowledged_end = std::max(ps->acknowledged_end, end);
}

produce_result cluster::produce(const std::string& topic, std::int32_t partition, std::vector<record> records, acks a,
                                std::int64_t now_ms) {
  return append_batch(topic, partition, records, a, now_ms);
}

produce_result cluster::produce(const std::string& topic, std::int32_t partition, record r, acks a, std::int64_t now_ms) {
  return append_batch(topic, partition, std::span<record>(&r, 1), a, now_ms);
}

produce_result cluster::append_batch(const std::string& topic, std::int32_t partition, std::span<record> records, acks a,
                                     std::int64_t now_ms) {
  partition_state* ps = find(topic, partition);
  if (ps == nullptr) return {error_code::unknown_topic_or_partition, -1};
  if (ps->leader < 0) {
    if (a == acks::none) lost_ += records.size();  // fire and forget into nothing
    return {error_code::leader_not_available, -1};
  }
  const auto& config = this->topic(topic)->config;
  if (a == acks::all && static_cast<std::int32_t>(ps->isr.size()) < config.min_insync_replicas) {
    return {error_code::not_enough_replicas, -1};
  }
  partition_log& leader = ps->logs.at(ps->leader);
  const std::int64_t base = leader.log_end_offset();
  meter_.charge({node_id{static_cast<std::uint32_t>(ps->leader)}, 0}, work_kind::frame);
  charge_append(*ps, ps->leader, records);
  for (auto& r : records) {
    if (r.timestamp_ms == 0) r.timestamp_ms = now_ms;
    leader.append(std::move(r));
  }
  charge_memory(*ps, ps->leader);
  if (a == acks::all && !follower_fetching_) {
    // The leader waits for every ISR member: model the followers' fetch as immediate.
    for (std::int32_t follower : ps->isr) {
      if (follower != ps->leader) catch_up(*ps, follower, now_ms);
    }
  }
  update_high_watermark(*ps);
  // Under follower fetching an acks=all producer hears back later, through acknowledge().
  if (a == acks::leader || (a == acks::all && !follower_fetching_)) ps->acknowledged_end = leader.log_end_offset();
  return {error_code::none, a == acks::none ? -1 : base};
}

fetch_result cluster::fetch(const std::string& topic, std::int32_t partition, std::int64_t offset,
                            std::size_t max_records) const {
  const topic_state* t = this->topic(topic);
  if (t == nullptr || partition < 0 || partition >= t->config.partitions) {
    return {error_code::unknown_topic_or_partition, {}, 0, 0};
  }
  const auto& ps = t->partitions[static_cast<std::size_t>(partition)];
  if (ps.leader < 0) return {error_code::leader_not_available, {}, ps.high_watermark, 0};
  const auto& log = ps.logs.at(ps.leader);
  auto records = log.read(offset, max_records, ps.high_watermark);
  if (!records) return {records.error(), {}, ps.high_watermark, log.log_start_offset()};
  return {error_code::none, std::move(*records), ps.high_watermark, log.log_start_offset()};
}

std::map<topic_partition, std::int64_t> cluster::group_lag(const std::string& group) const {
  std::map<topic_partition, std::int64_t> lag;
  for (const auto& [name, t] : topics_) {
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      const topic_partition tp{name, p};
      const consumer_group* g = groups_.find(group);
      if (auto committed = g ? g->committed(tp) : std::nullopt) {
        lag[tp] = std::max<std::int64_t>(0, t.partitions[static_cast<std::size_t>(p)].high_watermark - *committed);
      }
    }
  }
  return lag;
}

void cluster::replicate(std::int64_t now_ms) {
  all_touched_ = noting_;
  for (auto& [name, t] : topics_) {
    for (auto& ps : t.partitions) {
      if (ps.leader < 0) continue;
      for (std::int32_t r : ps.replicas) {
        if (r == ps.leader || !up_[static_cast<std::size_t>(r)]) continue;
        catch_up(ps, r, now_ms);
      }
      expire_lagging(ps, now_ms);
    }
  }
}

void cluster::clean(std::int64_t now_ms) {
  all_touched_ = noting_;
  for (auto& [name, t] : topics_) {
    for (auto& ps : t.partitions) {
      for (auto& [b, log] : ps.logs) {
        log.apply_retention(now_ms);
        if (t.config.log.compact) log.compact();
      }
    }
  }
}

void cluster::elect(partition_state& ps, const topic_config& config) {
  const std::int32_t old_leader = ps.leader;
  ps.leader = -1;
  // Clean: the first live ISR member in replica order.
  for (std::int32_t r : ps.replicas) {
    if (up_[static_cast<std::size_t>(r)] && ps.isr.contains(r)) {
      ps.leader = r;
      break;
    }
  }
  if (ps.leader < 0 && config.unclean_leader_election) {
    // Unclean: any live replica, accepting that it may lack committed records.
    for (std::int32_t r : ps.replicas) {
      if (up_[static_cast<std::size_t>(r)]) {
        ps.leader = r;
        ps.isr = {r};
        break;
      }
    }
  }
  if (ps.leader < 0 || ps.leader == old_leader) return;
  ++ps.leader_epoch;
  const std::int64_t end = ps.logs.at(ps.leader).log_end_offset();
  if (old_leader >= 0) {
    const std::int64_t old_end = ps.logs.at(old_leader).log_end_offset();
    if (old_end > end) vanished_ += static_cast<std::uint64_t>(old_end - end);
  }
  ps.epoch_start[ps.leader_epoch] = end;
  for (std::int32_t r : ps.replicas) {
    if (up_[static_cast<std::size_t>(r)]) ps.replica_epoch[r] = ps.leader_epoch;
  }
  if (ps.acknowledged_end > end) {
    lost_ += static_cast<std::uint64_t>(ps.acknowledged_end - end);
    ps.acknowledged_end = end;
  }
  ps.high_watermark = std::min(ps.high_watermark, end);
  update_high_watermark(ps);
}

void cluster::crash_broker(std::int32_t broker, std::int64_t) {
  if (!up_.at(static_cast<std::size_t>(broker))) return;
  up_[static_cast<std::size_t>(broker)] = false;
  // Its session ends: /brokers/ids/N and, if it held it, /controller disappear; the controller
  // (possibly newly elected) then moves leadership of the partitions it led.
  zk_.close_session(sessions_[static_cast<std::size_t>(broker)]);
  if (!zk_.exists("/controller")) elect_controller();
  for (auto& [name, t] : topics_) {
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      auto& ps = t.partitions[static_cast<std::size_t>(p)];
      const bool was_only = ps.isr.size() == 1 && ps.isr.contains(broker);
      if (!was_only) ps.isr.erase(broker);  // the last ISR member stays in it (Kafka keeps it)
      if (ps.leader == broker) {
        ps.isr.erase(broker);
        elect(ps, t.config);
        if (ps.leader < 0 && was_only) ps.isr.insert(broker);
      }
      publish_state(name, p, ps);
    }
  }
}

void cluster::restart_broker(std::int32_t broker, std::int64_t now_ms) {
  if (up_.at(static_cast<std::size_t>(broker))) return;
  all_touched_ = noting_;
  up_[static_cast<std::size_t>(broker)] = true;
  register_broker(broker);
  if (!zk_.exists("/controller")) elect_controller();
  for (auto& [name, t] : topics_) {
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      auto& ps = t.partitions[static_cast<std::size_t>(p)];
      if (std::find(ps.replicas.begin(), ps.replicas.end(), broker) == ps.replicas.end()) continue;
      if (ps.leader < 0) {
        elect(ps, t.config);  // an offline partition comes back with its last ISR member
        publish_state(name, p, ps);
        continue;
      }
      // KIP-101: a returning replica asks where the epoch after its last one began and drops
      // everything from there (records no later leader had), then catches up from the leader.
      // Truncating to the high watermark instead could leave it with diverging records.
      partition_log& log = ps.logs.at(broker);
      auto next_epoch = ps.epoch_start.upper_bound(ps.replica_epoch[broker]);
      if (next_epoch != ps.epoch_start.end() && log.log_end_offset() > next_epoch->second) {
        truncated_ += static_cast<std::uint64_t>(log.log_end_offset() - next_epoch->second);
        log.truncate_to(next_epoch->second);
      }
      ps.replica_epoch[broker] = ps.leader_epoch;
      ps.caught_up_ms[broker] = now_ms;
    }
  }
}

}  // namespace mqlab::broker::kafka
