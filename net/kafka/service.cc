// Request dispatch, completions and deadlines, and the cluster-level APIs: ApiVersions,
// Metadata (with auto-creation), CreateTopics and ListOffsets.
#include "net/kafka/service.h"

#include "net/kafka/partition_walk.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>


namespace mqlab::net::kafka {

using broker::kafka::error_code;

namespace {

// Kafka's rule for topic names: at most 249 of [a-zA-Z0-9._-], not "." or "..".
bool legal_topic_name(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

service::service(broker::kafka::cluster& core, service_options options) : core_(core), options_(std::move(options)) {}

void service::advertise(node_address address) { addresses_[address.id] = std::move(address); }

std::vector<node_address> service::live_nodes() const {
  std::vector<node_address> out;
  for (const auto& [id, a] : addresses_) {
    if (core_.broker_up(id)) out.push_back(a);
  }
  return out;
}

outcome service::handle(const request_header& h, wire_reader& in, std::int32_t node, reply_slot from,
                        std::int64_t now_ms) {
  const auto v = h.api_version;
  switch (static_cast<api_key>(h.api_key)) {
    case api_key::api_versions: return api_versions(v);
    case api_key::metadata: return metadata(in, v, now_ms);
    case api_key::create_topics: return create_topics(in, v, now_ms);
    case api_key::list_offsets: return list_offsets(in, v, node);
    case api_key::produce: return produce(in, v, node, from, now_ms);
    case api_key::fetch: return fetch(in, v, node, from, now_ms);
    case api_key::find_coordinator: return find_coordinator(in);
    case api_key::join_group: return join_group(in, h, from, node, now_ms);
    case api_key::sync_group: return sync_group(in, v, from, node, now_ms);
    case api_key::heartbeat: return heartbeat(in, v, node, now_ms);
    case api_key::leave_group: return leave_group(in, v, node, now_ms);
    case api_key::offset_commit: return offset_commit(in, v, node);
    case api_key::offset_fetch: return offset_fetch(in, v, node);
  }
  throw wire_error{fmt::format("{} is not served", api_name(h.api_key))};
}

std::vector<completion> service::take_completions() { return std::exchange(completions_, {}); }

void service::forget(std::uint64_t connection) {
  std::erase_if(parked_, [&](const parked_fetch& f) { return f.from.connection == connection; });
  std::erase_if(parked_produces_, [&](const parked_produce& p) { return p.from.connection == connection; });
  std::erase_if(pending_, [&](const auto& kv) { return kv.second.from.connection == connection; });
  replica_links_.erase(connection);
}

void service::advance(std::int64_t now_ms) {
  if (core_.groups().next_deadline() <= now_ms) {
    core_.groups().advance(now_ms);
    collect_group_replies();
  }
  if (addresses_.size() > 1 && now_ms >= next_replication_ms_) {
    // Over the network the followers' own fetches copy records; only the ISR bookkeeping is left.
    if (core_.follower_fetching()) core_.expire_lagging(now_ms);
    else core_.replicate(now_ms);
    next_replication_ms_ = now_ms + options_.replica_fetch_interval_ms;
  }
  if (!parked_produces_.empty()) wake_produces(now_ms);
  if (now_ms >= next_clean_ms_) {
    core_.clean(now_ms);
    next_clean_ms_ = now_ms + options_.log_clean_interval_ms;
  }
  wake_fetches(now_ms);
}

std::int64_t service::next_deadline() const {
  std::int64_t t = next_clean_ms_;
  if (addresses_.size() > 1) t = std::min(t, next_replication_ms_);
  t = std::min(t, core_.groups().next_deadline());
  for (const auto& f : parked_) t = std::min(t, f.deadline_ms);
  for (const auto& p : parked_produces_) t = std::min(t, p.deadline_ms);
  return t;
}

void service::crash(std::int32_t node, std::int64_t now_ms) {
  core_.crash_broker(node, now_ms);
  // Long polls on the dead broker end now, telling their clients the leader moved.
  for (auto& f : parked_) {
    if (f.node == node) f.deadline_ms = now_ms;
  }
  wake_fetches(now_ms);
}

void service::restart(std::int32_t node, std::int64_t now_ms) { core_.restart_broker(node, now_ms); }

error_code service::leadership(const std::string& topic, std::int32_t p, std::int32_t node) const {
  if (!core_.has_topic(topic) || p < 0 || p >= core_.partitions(topic)) return error_code::unknown_topic_or_partition;
  const auto leader = core_.partition(topic, p).leader;
  if (leader == node) return error_code::none;
  return leader < 0 ? error_code::leader_not_available : error_code::not_leader_or_follower;
}

outcome service::api_versions(std::int16_t version) {
  outcome o;
  wire_writer w(o.body);
  w.int16(0);
  w.array(supported_apis().size());
  for (const auto& a : supported_apis()) {
    w.int16(static_cast<std::int16_t>(a.key));
    w.int16(a.min);
    w.int16(a.max);
  }
  if (version >= 1) w.int32(0);  // throttle_time_ms
  return o;
}

error_code service::create_topic(const std::string& name, std::int32_t partitions, std::int16_t replication,
                                 const std::map<std::string, std::string>& configs, std::string* message,
                                 std::int64_t now_ms) {
  if (!legal_topic_name(name)) {
    *message = fmt::format("topic name '{}' is illegal: use up to 249 of a-z A-Z 0-9 . _ -", name);
    return error_code::invalid_topic;
  }
  broker::kafka::topic_config config;
  config.partitions = partitions < 0 ? options_.default_partitions : partitions;
  config.replication_factor = replication < 0 ? options_.default_replication_factor : replication;
  if (config.partitions > options_.max_partitions_per_topic) {
    *message = fmt::format("Number of partitions {} is larger than this broker's limit of {} per topic", config.partitions,
                           options_.max_partitions_per_topic);
    return error_code::invalid_partitions;
  }
  if (config.partitions > 0 && core_.total_partitions() + config.partitions > options_.max_partitions) {
    *message = fmt::format("{} more partitions would exceed this cluster's limit of {} (it has {})", config.partitions,
                           options_.max_partitions, core_.total_partitions());
    return error_code::policy_violation;
  }
  for (const auto& [key, value] : configs) {
    try {
      if (key == "min.insync.replicas") config.min_insync_replicas = std::stoi(value);
      else if (key == "retention.ms") config.log.retention_ms = std::stoll(value);
      else if (key == "retention.bytes") config.log.retention_bytes = std::stoll(value);
      else if (key == "segment.bytes") config.log.segment_bytes = std::stoull(value);
      else if (key == "cleanup.policy") config.log.compact = value == "compact";
      else if (key == "unclean.leader.election.enable") config.unclean_leader_election = value == "true";
      else throw std::invalid_argument("unknown");
    } catch (const std::exception&) {
      *message = fmt::format("config {}={} is not supported", key, value);
      return error_code::invalid_config;
    }
  }
  const error_code e = core_.create_topic(name, config, now_ms);
  if (e == error_code::invalid_replication_factor) {
    *message = fmt::format("replication factor {} is larger than the {} brokers", config.replication_factor,
                           addresses_.size());
  } else if (e == error_code::topic_already_exists) {
    *message = fmt::format("Topic '{}' already exists.", name);
  }
  return e;
}

outcome service::create_topics(wire_reader& in, std::int16_t version, std::int64_t now_ms) {
  struct entry {
    std::string name;
    std::int32_t partitions;
    std::int16_t replication;
    std::map<std::string, std::string> configs;
  };
  std::vector<entry> topics(static_cast<std::size_t>(in.array(12)));
  for (auto& t : topics) {
    t.name = in.string();
    t.partitions = in.int32();
    t.replication = in.int16();
    for (std::int32_t n = in.array(8); n > 0; --n) {  // manual assignments: placement is ours
      (void)in.int32();
      for (std::int32_t b = in.array(4); b > 0; --b) (void)in.int32();
    }
    for (std::int32_t n = in.array(4); n > 0; --n) {
      std::string key(in.string());
      t.configs[key] = std::string(in.nullable_string().value_or(""));
    }
  }
  (void)in.int32();  // timeout_ms: creation is immediate
  const bool validate_only = version >= 1 && in.boolean();
  outcome o;
  wire_writer w(o.body);
  if (version >= 2) w.int32(0);
  w.array(topics.size());
  std::int32_t created = 0;
  for (const auto& t : topics) {
    std::string message;
    error_code e = error_code::none;
    if (version < 4 && (t.partitions < 0 || t.replication < 0)) {
      e = error_code::invalid_request;
    } else if (validate_only) {
      e = core_.has_topic(t.name) ? error_code::topic_already_exists : error_code::none;
    } else if (created >= options_.max_creations_per_request) {
      e = error_code::throttling_quota_exceeded;
      message = fmt::format("at most {} topics are created per request; send the rest again", options_.max_creations_per_request);
    } else {
      e = create_topic(t.name, t.partitions, t.replication, t.configs, &message, now_ms);
      created += e == error_code::none;
    }
    w.string(t.name);
    w.int16(static_cast<std::int16_t>(e));
    if (version >= 1) w.nullable_string(message.empty() ? std::nullopt : std::optional<std::string_view>(message));
  }
  return o;
}

outcome service::metadata(wire_reader& in, std::int16_t version, std::int64_t now_ms) {
  // v0: an empty list means every topic; v1+: null means every topic and empty means none.
  const auto count = version == 0 ? std::optional<std::int32_t>(in.array(2)) : in.nullable_array(2);
  std::vector<std::string> wanted;
  for (std::int32_t i = 0; i < count.value_or(0); ++i) wanted.emplace_back(in.string());
  const bool allow_create = options_.auto_create_topics && version >= 1 && (version < 4 || in.boolean());
  const bool all = version == 0 ? wanted.empty() : !count.has_value();
  if (all) {
    for (const auto& name : core_.topic_names()) wanted.push_back(name);
  }
  outcome o;
  wire_writer w(o.body);
  if (version >= 3) w.int32(0);
  const auto nodes = live_nodes();
  w.array(nodes.size());
  for (const auto& n : nodes) {
    w.int32(n.id);
    w.string(n.host);
    w.int32(n.port);
    if (version >= 1) w.nullable_string(std::nullopt);  // rack
  }
  if (version >= 2) w.nullable_string(options_.cluster_id);
  if (version >= 1) w.int32(core_.controller());
  w.array(wanted.size());
  std::int32_t created = 0;
  for (const auto& name : wanted) {
    error_code e = error_code::none;
    std::string ignored;
    if (!core_.has_topic(name) && !allow_create) {
      e = error_code::unknown_topic_or_partition;
    } else if (!core_.has_topic(name)) {
      // Past the per-request limit the client hears "being created" and asks again.
      e = created < options_.max_creations_per_request ? create_topic(name, -1, -1, {}, &ignored, now_ms)
                                                        : error_code::leader_not_available;
      created += e == error_code::none;
    }
    w.int16(static_cast<std::int16_t>(e));
    w.string(name);
    if (version >= 1) w.boolean(false);  // is_internal
    const std::int32_t partitions = e == error_code::none ? core_.partitions(name) : 0;
    w.array(static_cast<std::size_t>(partitions));
    for (std::int32_t p = 0; p < partitions; ++p) {
      const auto& ps = core_.partition(name, p);
      w.int16(static_cast<std::int16_t>(ps.leader < 0 ? error_code::leader_not_available : error_code::none));
      w.int32(p);
      w.int32(ps.leader);
      w.array(ps.replicas.size());
      for (auto r : ps.replicas) w.int32(r);
      w.array(ps.isr.size());
      for (auto r : ps.isr) w.int32(r);
    }
  }
  return o;
}

outcome service::list_offsets(wire_reader& in, std::int16_t version, std::int32_t node) {
  (void)in.int32();  // replica_id
  outcome o;
  wire_writer w(o.body);
  for_each_partition(in, &w, 12, [&](const std::string& name, std::int32_t p) {
    const std::int64_t timestamp = in.int64();
    if (version == 0) (void)in.int32();  // max_num_offsets
    const error_code e = leadership(name, p, node);
    std::int64_t offset = -1, found_ts = -1;
    if (e == error_code::none) {
      const auto& ps = core_.partition(name, p);
      const auto& log = ps.logs.at(ps.leader);
      // Consumers see committed records only: "latest" is the high watermark.
      if (timestamp == -1) offset = ps.high_watermark;
      else if (timestamp == -2) offset = log.log_start_offset();
      else if (const auto at = log.offset_for_timestamp(timestamp); at < ps.high_watermark) {
        offset = at;
        (void)log.visit(at, 1, ps.high_watermark, [&](const broker::kafka::record& r) { found_ts = r.timestamp_ms; });
      }
    }
    w.int16(static_cast<std::int16_t>(e));
    if (version == 0) {
      w.array(offset < 0 ? 0 : 1);
      if (offset >= 0) w.int64(offset);
    } else {
      w.int64(found_ts);
      w.int64(offset);
    }
  });
  return o;
}

}  // namespace mqlab::net::kafka
