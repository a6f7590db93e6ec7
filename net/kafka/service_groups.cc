// Group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit and
// OffsetFetch, over the core's consumer_group state machine. Join and sync replies may wait for
// other members; they come back as completions tagged with the request's reply slot.
#include "net/kafka/service.h"

#include <fmt/format.h>

#include "net/kafka/partition_walk.h"
#include "net/log.h"

namespace mqlab::net::kafka {

using broker::kafka::error_code;

namespace {

// FNV-1a: the coordinator of a group must not depend on the standard library's hash.
std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  return h;
}

void write_join(std::string& body, std::int16_t version, const broker::kafka::join_reply& r) {
  wire_writer w(body);
  if (version >= 2) w.int32(0);
  w.int16(static_cast<std::int16_t>(r.error));
  w.int32(r.generation);
  w.string(r.protocol);
  w.string(r.leader);
  w.string(r.member_id);
  w.array(r.members.size());
  for (const auto& [id, metadata] : r.members) {
    w.string(id);
    w.bytes(metadata);
  }
}

void write_sync(std::string& body, std::int16_t version, const broker::kafka::sync_reply& r) {
  wire_writer w(body);
  if (version >= 1) w.int32(0);
  w.int16(static_cast<std::int16_t>(r.error));
  w.bytes(r.assignment);
}

outcome error_only(std::int16_t version, std::int16_t throttle_from, error_code e) {
  outcome o;
  wire_writer w(o.body);
  if (version >= throttle_from) w.int32(0);
  w.int16(static_cast<std::int16_t>(e));
  return o;
}

}  // namespace

std::int32_t service::coordinator(const std::string& group) const {
  const auto nodes = live_nodes();
  if (nodes.empty()) return -1;
  return nodes[stable_hash(group) % nodes.size()].id;
}

broker::kafka::consumer_group* service::coordinated(const std::string& group, std::int32_t node) {
  if (coordinator(group) != node) return nullptr;
  return &core_.groups().group(group);
}

const broker::kafka::consumer_group* service::group(const std::string& id) const { return core_.groups().find(id); }

void service::collect_group_replies() {
  for (auto& reply : core_.groups().take_replies()) {
    const std::uint64_t tag = std::visit([](const auto& r) { return r.tag; }, reply);
    auto it = pending_.find(tag);
    if (it == pending_.end()) continue;  // the connection went away meanwhile
    completion c{it->second.from};
    std::visit(
        [&](const auto& r) {
          if constexpr (std::is_same_v<std::decay_t<decltype(r)>, broker::kafka::join_reply>) {
            write_join(c.body, it->second.version, r);
          } else {
            write_sync(c.body, it->second.version, r);
          }
        },
        reply);
    completions_.push_back(std::move(c));
    pending_.erase(it);
  }
}

outcome service::find_coordinator(wire_reader& in) {
  const std::string group(in.string());
  outcome o;
  wire_writer w(o.body);
  const std::int32_t id = coordinator(group);
  const auto it = addresses_.find(id);
  if (it == addresses_.end()) {
    w.int16(static_cast<std::int16_t>(error_code::coordinator_not_available));
    w.int32(-1);
    w.string("");
    w.int32(-1);
    return o;
  }
  w.int16(0);
  w.int32(id);
  w.string(it->second.host);
  w.int32(it->second.port);
  return o;
}

outcome service::join_group(wire_reader& in, const request_header& header, reply_slot from, std::int32_t node,
                            std::int64_t now_ms) {
  const std::int16_t version = header.api_version;
  const std::string group(in.string());
  broker::kafka::join_request r;
  r.client_id = header.client_id.value_or("");
  r.session_timeout_ms = in.int32();
  r.rebalance_timeout_ms = version >= 1 ? in.int32() : r.session_timeout_ms;
  r.member_id = in.string();
  r.protocol_type = in.string();
  for (std::int32_t n = in.array(6); n > 0; --n) {
    broker::kafka::group_protocol p;
    p.name = in.string();
    p.metadata = in.bytes();
    r.protocols.push_back(std::move(p));
  }
  broker::kafka::join_reply refused{.error = error_code::none, .member_id = r.member_id};
  auto* g = group.empty() ? nullptr : coordinated(group, node);
  if (g == nullptr) {
    refused.error = group.empty() ? error_code::invalid_group_id : error_code::not_coordinator;
    outcome o;
    write_join(o.body, version, refused);
    return o;
  }
  r.tag = core_.groups().next_tag();
  pending_[r.tag] = {from, version};
  g->join(std::move(r), now_ms);
  collect_group_replies();
  return {outcome::kind::later, {}};
}

outcome service::sync_group(wire_reader& in, std::int16_t version, reply_slot from, std::int32_t node,
                            std::int64_t now_ms) {
  const std::string group(in.string());
  const std::int32_t generation = in.int32();
  const std::string member(in.string());
  std::map<std::string, std::string> assignments;
  for (std::int32_t n = in.array(6); n > 0; --n) {
    std::string id(in.string());
    assignments[std::move(id)] = std::string(in.bytes());
  }
  auto* g = group.empty() ? nullptr : coordinated(group, node);
  if (g == nullptr) {
    outcome o;
    write_sync(o.body, version, {0, group.empty() ? error_code::invalid_group_id : error_code::not_coordinator, {}});
    return o;
  }
  const std::uint64_t tag = core_.groups().next_tag();
  pending_[tag] = {from, version};
  g->sync(tag, generation, member, std::move(assignments), now_ms);
  collect_group_replies();
  return {outcome::kind::later, {}};
}

outcome service::heartbeat(wire_reader& in, std::int16_t version, std::int32_t node, std::int64_t now_ms) {
  const std::string group(in.string());
  const std::int32_t generation = in.int32();
  const std::string member(in.string());
  auto* g = coordinated(group, node);
  const error_code e = g == nullptr ? error_code::not_coordinator : g->heartbeat(member, generation, now_ms);
  return error_only(version, 1, e);
}

outcome service::leave_group(wire_reader& in, std::int16_t version, std::int32_t node, std::int64_t now_ms) {
  const std::string group(in.string());
  const std::string member(in.string());
  auto* g = coordinated(group, node);
  const error_code e = g == nullptr ? error_code::not_coordinator : g->leave(member, now_ms);
  if (g != nullptr) collect_group_replies();  // the others' joins may now complete
  return error_only(version, 1, e);
}

outcome service::offset_commit(wire_reader& in, std::int16_t version, std::int32_t node) {
  const std::string group(in.string());
  const std::int32_t generation = version >= 1 ? in.int32() : -1;
  const std::string member(version >= 1 ? in.string() : std::string_view{});
  if (version >= 2) (void)in.int64();  // retention_time_ms: offsets are kept for the broker's life
  auto* g = coordinated(group, node);
  outcome o;
  wire_writer w(o.body);
  for_each_partition(in, &w, 14, [&](const std::string& name, std::int32_t p) {
    const std::int64_t offset = in.int64();
    if (version == 1) (void)in.int64();  // commit_timestamp
    (void)in.nullable_string();          // metadata
    error_code e = error_code::none;
    if (g == nullptr) e = error_code::not_coordinator;
    else if (!core_.has_topic(name) || p < 0 || p >= core_.partitions(name)) e = error_code::unknown_topic_or_partition;
    else e = g->commit(member, generation, {name, p}, offset);
    if (e == error_code::none && keep_commit_) {
      if (auto kept = keep_commit_(group, {name, p}, offset); !kept) {
        log(log_level::error, "cannot keep group {}'s offset commit: {}", group, kept.error());
        e = error_code::kafka_storage_error;
      }
    }
    w.int16(static_cast<std::int16_t>(e));
  });
  return o;
}

outcome service::offset_fetch(wire_reader& in, std::int16_t, std::int32_t node) {
  const std::string group(in.string());
  auto* g = coordinated(group, node);
  outcome o;
  wire_writer w(o.body);
  for_each_partition(in, &w, 4, [&](const std::string& name, std::int32_t p) {
    const auto committed = g == nullptr ? std::nullopt : g->committed({name, p});
    w.int64(committed.value_or(-1));  // -1: nothing committed, the consumer's reset policy decides
    w.nullable_string("");
    w.int16(static_cast<std::int16_t>(g == nullptr ? error_code::not_coordinator : error_code::none));
  });
  return o;
}

}  // namespace mqlab::net::kafka
