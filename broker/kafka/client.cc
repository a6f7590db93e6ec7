// Producer batching and consumer polling on top of the cluster model.
#include "broker/kafka/client.h"

#include <algorithm>

namespace mqlab::broker::kafka {

producer::producer(cluster& c, std::string topic, producer_config config)
    : cluster_(c),
      topic_(std::move(topic)),
      config_(config),
      partitioner_(std::max(c.partitions(topic_), 1), config.keyless) {}

std::int32_t producer::send(std::optional<std::string> key, std::optional<std::string> value, std::int64_t now_ms,
                            std::optional<std::int32_t> partition) {
  const std::int32_t p = partitioner_.choose(partition, key ? std::optional<std::string_view>(*key) : std::nullopt);
  auto& batch = batches_in_progress_[p];
  if (batch.records.empty()) batch.opened_ms = now_ms;
  record r{0, now_ms, std::move(key), std::move(value), {}};
  batch.bytes += r.size_bytes();
  batch.records.push_back(std::move(r));
  if (batch.bytes >= config_.batch_size || config_.linger_ms == 0) send_batch(p, now_ms);
  return p;
}

void producer::send_batch(std::int32_t partition, std::int64_t now_ms) {
  auto it = batches_in_progress_.find(partition);
  if (it == batches_in_progress_.end() || it->second.records.empty()) return;
  const std::size_t n = it->second.records.size();
  const auto result = cluster_.produce(topic_, partition, std::move(it->second.records), config_.required_acks, now_ms);
  batches_in_progress_.erase(it);
  ++batches_;
  // A sticky partitioner moves on once its batch is sent (KIP-480).
  partitioner_.on_new_batch();
  if (result.error == error_code::none) acknowledged_ += config_.required_acks == acks::none ? 0 : n;
  else failed_ += n;
}

void producer::advance(std::int64_t now_ms) {
  std::vector<std::int32_t> due;
  for (const auto& [p, b] : batches_in_progress_) {
    if (!b.records.empty() && b.opened_ms + config_.linger_ms <= now_ms) due.push_back(p);
  }
  for (std::int32_t p : due) send_batch(p, now_ms);
}

std::int64_t producer::next_deadline() const {
  std::int64_t earliest = INT64_MAX;
  for (const auto& [p, b] : batches_in_progress_) {
    if (!b.records.empty()) earliest = std::min(earliest, b.opened_ms + config_.linger_ms);
  }
  return earliest;
}

void producer::flush(std::int64_t now_ms) {
  std::vector<std::int32_t> all;
  for (const auto& [p, b] : batches_in_progress_) all.push_back(p);
  for (std::int32_t p : all) send_batch(p, now_ms);
}

consumer::consumer(cluster& c, std::vector<std::string> topics, consumer_config config)
    : cluster_(c), topics_(std::move(topics)), config_(std::move(config)) {}

consumer_group& consumer::group() { return cluster_.groups().group(config_.group); }

void consumer::send_join(std::int64_t now_ms) {
  join_request r{.tag = cluster_.groups().next_tag(),
                 .member_id = member_id_,
                 .client_id = "consumer",
                 .session_timeout_ms = config_.session_timeout_ms,
                 .rebalance_timeout_ms = config_.max_poll_interval_ms,
                 .protocol_type = "consumer",
                 .protocols = {{std::string(assignor_name(config_.assignor)), encode_subscription({{}, topics_, assigned_})}}};
  join_tag_ = r.tag;
  rejoin_ = false;
  group().join(std::move(r), now_ms);
}

bool consumer::take_part(std::int64_t now_ms) {
  if (generation_ < 0 && join_tag_ == 0 && sync_tag_ == 0) send_join(now_ms);
  if (join_tag_ != 0) {
    auto reply = cluster_.groups().take_reply(join_tag_);
    if (!reply) return false;
    join_tag_ = 0;
    joined(std::get<join_reply>(*reply), now_ms);
  }
  if (sync_tag_ != 0) {
    auto reply = cluster_.groups().take_reply(sync_tag_);
    if (!reply) return false;
    sync_tag_ = 0;
    synced(std::get<sync_reply>(*reply));
  }
  return in_group();
}

void consumer::joined(const join_reply& r, std::int64_t now_ms) {
  if (r.error != error_code::none) {
    // UNKNOWN_MEMBER_ID (expired while away): join again as a new member; otherwise retry.
    if (r.error == error_code::unknown_member_id) member_id_.clear();
    generation_ = -1;
    return;
  }
  member_id_ = r.member_id;
  generation_ = r.generation;
  sync_tag_ = cluster_.groups().next_tag();
  group().sync(sync_tag_, generation_, member_id_, r.leader == member_id_ ? assignments_for(r) : std::map<std::string, std::string>{},
               now_ms);
}

std::map<std::string, std::string> consumer::assignments_for(const join_reply& r) const {
  std::vector<member_subscription> members;
  kafka::assignment previous;
  std::map<std::string, std::int32_t> partitions;
  for (const auto& [id, metadata] : r.members) {
    auto sub = decode_subscription(metadata).value_or(member_subscription{});
    sub.member_id = id;
    for (const auto& t : sub.topics) partitions[t] = cluster_.partitions(t);
    previous[id] = sub.owned;
    members.push_back(std::move(sub));
  }
  const auto kind = assignor_named(r.protocol).value_or(config_.assignor);
  std::map<std::string, std::string> out;
  for (const auto& [id, parts] : assign(kind, members, partitions, previous)) out[id] = encode_assignment(parts);
  return out;
}

void consumer::synced(const sync_reply& r) {
  if (r.error != error_code::none) {
    rejoin_ = true;  // the group moved on while we synced: join its new generation
    return;
  }
  assigned_ = decode_assignment(r.assignment).value_or(std::vector<topic_partition>{});
  // Keep positions of partitions still ours; new ones start from the committed offset.
  std::map<topic_partition, std::int64_t> kept;
  for (const auto& tp : assigned_) {
    auto it = positions_.find(tp);
    kept[tp] = it != positions_.end() ? it->second : starting_offset(tp);
  }
  positions_ = std::move(kept);
  next_partition_ = 0;
}

std::int64_t consumer::starting_offset(const topic_partition& tp) const {
  if (const auto* g = cluster_.groups().find(config_.group)) {
    if (auto committed = g->committed(tp)) return *committed;
  }
  return reset_position(tp);
}

std::int64_t consumer::reset_position(const topic_partition& tp) const {
  const auto& ps = cluster_.partition(tp.topic, tp.partition);
  if (config_.reset == offset_reset::earliest) {
    return ps.leader < 0 ? 0 : ps.logs.at(ps.leader).log_start_offset();
  }
  return ps.high_watermark;  // latest (and none, which fails on the first fetch if out of range)
}

std::expected<std::vector<std::pair<topic_partition, record>>, error_code> consumer::poll(std::int64_t now_ms) {
  std::vector<std::pair<topic_partition, record>> out;
  auto n = poll(now_ms, [&](const topic_partition& tp, const record& r) { out.emplace_back(tp, r); });
  if (!n) return std::unexpected(n.error());
  return out;
}

std::expected<std::size_t, error_code> consumer::poll(std::int64_t now_ms, const record_visitor& f) {
  if (closed_) return std::unexpected(error_code::unknown_member_id);
  if (in_group()) (void)heartbeat(now_ms);  // a failed heartbeat marks the consumer to rejoin
  if (rejoin_ && join_tag_ == 0 && sync_tag_ == 0) {
    // The group rebalanced: commit what was processed (the Java client's onJoinPrepare), rejoin.
    if (config_.auto_commit) commit(now_ms);
    send_join(now_ms);
  }
  if (!take_part(now_ms)) return 0;
  if (config_.auto_commit && now_ms - last_commit_ms_ >= config_.auto_commit_interval_ms) commit(now_ms);
  // fetch.min.bytes / fetch.max.wait.ms: the broker holds a fetch until enough data is there
  // or the wait is over.
  if (config_.fetch_min_bytes > 1 && available_bytes() < config_.fetch_min_bytes) {
    if (waiting_since_ms_ < 0) waiting_since_ms_ = now_ms;
    if (now_ms - waiting_since_ms_ < config_.fetch_max_wait_ms) return 0;
  }
  waiting_since_ms_ = -1;
  std::size_t n = 0;
  for (std::size_t visited = 0; visited < assigned_.size() && n < config_.max_poll_records; ++visited) {
    const auto& tp = assigned_[(next_partition_ + visited) % assigned_.size()];
    auto& pos = positions_[tp];
    const auto take = [&](const record& r) {
      pos = r.offset + 1;
      f(tp, r);
    };
    auto got = cluster_.fetch_visit(tp.topic, tp.partition, pos, config_.max_poll_records - n, take);
    if (!got && got.error() == error_code::offset_out_of_range) {
      if (config_.reset == offset_reset::none) return std::unexpected(error_code::offset_out_of_range);
      pos = reset_position(tp);
      got = cluster_.fetch_visit(tp.topic, tp.partition, pos, config_.max_poll_records - n, take);
    }
    n += got.value_or(0);
  }
  if (!assigned_.empty()) next_partition_ = (next_partition_ + 1) % assigned_.size();
  return n;
}

bool consumer::fetch_ready() const {
  if (rejoin_) return true;
  return std::ranges::any_of(positions_, [&](const auto& position) {
    const auto& [tp, pos] = position;
    return pos < cluster_.partition(tp.topic, tp.partition).high_watermark;
  });
}

std::size_t consumer::available_bytes() const {
  std::size_t bytes = 0;
  for (const auto& [tp, pos] : positions_) {
    (void)cluster_.fetch_visit(tp.topic, tp.partition, pos, SIZE_MAX, [&](const record& r) { bytes += r.size_bytes(); });
  }
  return bytes;
}

error_code consumer::heartbeat(std::int64_t now_ms) {
  if (closed_ || generation_ < 0) return error_code::unknown_member_id;
  if (join_tag_ != 0 || sync_tag_ != 0) return error_code::none;  // waiting on the coordinator keeps it alive
  const error_code e = group().heartbeat(member_id_, generation_, now_ms);
  if (e == error_code::unknown_member_id) {
    member_id_.clear();
    generation_ = -1;
  }
  if (e != error_code::none) rejoin_ = true;
  return e;
}

error_code consumer::commit(std::int64_t now_ms) {
  last_commit_ms_ = now_ms;
  for (const auto& [tp, pos] : positions_) {
    const auto e = group().commit(member_id_, generation_, tp, pos);
    if (e != error_code::none) return e;
  }
  return error_code::none;
}

error_code consumer::commit(const topic_partition& tp, std::int64_t offset) {
  return group().commit(member_id_, generation_, tp, offset);
}

void consumer::close(std::int64_t now_ms) {
  if (closed_) return;
  if (config_.auto_commit) commit(now_ms);
  if (!member_id_.empty()) group().leave(member_id_, now_ms);
  closed_ = true;
}

void consumer::seek(const topic_partition& tp, std::int64_t offset) { positions_[tp] = offset; }

void consumer::seek_to_beginning() {
  for (auto& [tp, pos] : positions_) {
    const auto& ps = cluster_.partition(tp.topic, tp.partition);
    pos = ps.leader < 0 ? 0 : ps.logs.at(ps.leader).log_start_offset();
  }
}

void consumer::seek_to_end() {
  for (auto& [tp, pos] : positions_) pos = cluster_.partition(tp.topic, tp.partition).high_watermark;
}

void consumer::seek_to_timestamp(std::int64_t ts_ms) {
  for (auto& [tp, pos] : positions_) {
    const auto& ps = cluster_.partition(tp.topic, tp.partition);
    if (ps.leader >= 0) pos = std::min(ps.logs.at(ps.leader).offset_for_timestamp(ts_ms), ps.high_watermark);
  }
}

std::optional<std::int64_t> consumer::position(const topic_partition& tp) const {
  auto it = positions_.find(tp);
  return it == positions_.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

std::int64_t consumer::lag(const topic_partition& tp) const {
  auto it = positions_.find(tp);
  if (it == positions_.end()) return 0;
  return std::max<std::int64_t>(0, cluster_.partition(tp.topic, tp.partition).high_watermark - it->second);
}

std::int64_t consumer::total_lag() const {
  std::int64_t total = 0;
  for (const auto& [tp, pos] : positions_) total += lag(tp);
  return total;
}

}  // namespace mqlab::broker::kafka
