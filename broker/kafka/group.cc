// Assignors as in the Java client (RangeAssignor, RoundRobinAssignor,
// CooperativeStickyAssignor's balance-while-keeping-owners rule) and the coordinator's state.
#include "broker/kafka/group.h"

#include <algorithm>

#include <fmt/format.h>

namespace mqlab::broker::kafka {
namespace {

bool subscribes(const member_subscription& m, const std::string& topic) {
  return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
}

std::vector<member_subscription> sorted(std::vector<member_subscription> members) {
  std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.member_id < b.member_id; });
  return members;
}

assignment range_assign(const std::vector<member_subscription>& members, const std::map<std::string, std::int32_t>& topics) {
  assignment out;
  for (const auto& m : members) out[m.member_id];
  for (const auto& [topic, count] : topics) {
    std::vector<const member_subscription*> consumers;
    for (const auto& m : members) {
      if (subscribes(m, topic)) consumers.push_back(&m);
    }
    if (consumers.empty()) continue;
    const std::int32_t n = static_cast<std::int32_t>(consumers.size());
    const std::int32_t each = count / n, extra = count % n;
    std::int32_t next = 0;
    for (std::int32_t i = 0; i < n; ++i) {
      const std::int32_t take = each + (i < extra ? 1 : 0);
      for (std::int32_t k = 0; k < take; ++k) out[consumers[static_cast<std::size_t>(i)]->member_id].push_back({topic, next++});
    }
  }
  return out;
}

assignment round_robin_assign(const std::vector<member_subscription>& members,
                              const std::map<std::string, std::int32_t>& topics) {
  assignment out;
  for (const auto& m : members) out[m.member_id];
  if (members.empty()) return out;
  std::size_t cursor = 0;
  for (const auto& [topic, count] : topics) {
    for (std::int32_t p = 0; p < count; ++p) {
      for (std::size_t tries = 0; tries < members.size(); ++tries, ++cursor) {
        const auto& m = members[cursor % members.size()];
        if (subscribes(m, topic)) {
          out[m.member_id].push_back({topic, p});
          ++cursor;
          break;
        }
      }
    }
  }
  return out;
}

assignment sticky_assign(const std::vector<member_subscription>& members, const std::map<std::string, std::int32_t>& topics,
                         const assignment& previous) {
  assignment out;
  for (const auto& m : members) out[m.member_id];
  std::vector<topic_partition> all;
  for (const auto& [topic, count] : topics) {
    for (std::int32_t p = 0; p < count; ++p) all.push_back({topic, p});
  }
  const std::size_t n = std::max<std::size_t>(members.size(), 1);
  const std::size_t max_each = (all.size() + n - 1) / n;
  // Keep what each surviving member owned, up to its fair share.
  std::set<topic_partition> taken;
  for (const auto& m : members) {
    auto it = previous.find(m.member_id);
    if (it == previous.end()) continue;
    for (const auto& tp : it->second) {
      if (out[m.member_id].size() >= max_each || !subscribes(m, tp.topic) || !topics.contains(tp.topic) ||
          tp.partition >= topics.at(tp.topic) || taken.contains(tp)) {
        continue;
      }
      out[m.member_id].push_back(tp);
      taken.insert(tp);
    }
  }
  // Hand out the rest to the least loaded subscriber (ties by member id).
  for (const auto& tp : all) {
    if (taken.contains(tp)) continue;
    const member_subscription* best = nullptr;
    for (const auto& m : members) {
      if (!subscribes(m, tp.topic)) continue;
      if (best == nullptr || out[m.member_id].size() < out[best->member_id].size()) best = &m;
    }
    if (best != nullptr) out[best->member_id].push_back(tp);
  }
  for (auto& [id, parts] : out) std::sort(parts.begin(), parts.end());
  return out;
}

}  // namespace

assignment assign(assignor_kind kind, const std::vector<member_subscription>& members,
                  const std::map<std::string, std::int32_t>& partitions_per_topic, const assignment& previous) {
  const auto ordered = sorted(members);
  switch (kind) {
    case assignor_kind::range: return range_assign(ordered, partitions_per_topic);
    case assignor_kind::round_robin: return round_robin_assign(ordered, partitions_per_topic);
    case assignor_kind::cooperative_sticky: return sticky_assign(ordered, partitions_per_topic, previous);
  }
  return {};
}

std::vector<topic_partition> moved_partitions(const assignment& before, const assignment& after) {
  std::map<topic_partition, std::string> owner_before, owner_after;
  for (const auto& [m, parts] : before) {
    for (const auto& tp : parts) owner_before[tp] = m;
  }
  for (const auto& [m, parts] : after) {
    for (const auto& tp : parts) owner_after[tp] = m;
  }
  std::vector<topic_partition> moved;
  for (const auto& [tp, m] : owner_after) {
    auto it = owner_before.find(tp);
    if (it == owner_before.end() || it->second != m) moved.push_back(tp);
  }
  return moved;
}

void group_coordinator::set_partitions(const std::string& topic, std::int32_t partitions) { partitions_[topic] = partitions; }

void group_coordinator::rebalance(group_state& g) {
  ++g.generation;
  std::vector<member_subscription> subs;
  for (const auto& [id, m] : g.members) subs.push_back({id, m.topics});
  std::map<std::string, std::int32_t> topics;
  for (const auto& s : subs) {
    for (const auto& t : s.topics) {
      if (auto it = partitions_.find(t); it != partitions_.end()) topics[t] = it->second;
    }
  }
  auto next = assign(g.assignor, subs, topics, g.current);
  g.moved = moved_partitions(g.current, next);
  g.current = std::move(next);
}

group_coordinator::join_result group_coordinator::join(const std::string& group, const std::string& member_id,
                                                       std::vector<std::string> topics, assignor_kind assignor,
                                                       std::int64_t session_timeout_ms, std::int64_t now_ms) {
  auto& g = groups_[group];
  g.assignor = assignor;
  std::string id = member_id.empty() ? fmt::format("consumer-{}", next_member_++) : member_id;
  std::sort(topics.begin(), topics.end());
  auto it = g.members.find(id);
  const bool changed = it == g.members.end() || it->second.topics != topics;
  g.members[id] = member{std::move(topics), session_timeout_ms, now_ms};
  if (changed) rebalance(g);
  return {id, g.generation, assigned(group, id)};
}

error_code group_coordinator::leave(const std::string& group, const std::string& member_id) {
  auto g = groups_.find(group);
  if (g == groups_.end() || g->second.members.erase(member_id) == 0) return error_code::unknown_member_id;
  rebalance(g->second);
  return error_code::none;
}

error_code group_coordinator::heartbeat(const std::string& group, const std::string& member_id, std::int32_t generation,
                                        std::int64_t now_ms) {
  auto g = groups_.find(group);
  if (g == groups_.end()) return error_code::unknown_member_id;
  auto m = g->second.members.find(member_id);
  if (m == g->second.members.end()) return error_code::unknown_member_id;
  m->second.last_seen_ms = now_ms;
  return generation == g->second.generation ? error_code::none : error_code::rebalance_in_progress;
}

std::vector<std::string> group_coordinator::advance(std::int64_t now_ms) {
  std::vector<std::string> expired;
  for (auto& [name, g] : groups_) {
    bool any = false;
    for (auto it = g.members.begin(); it != g.members.end();) {
      if (now_ms - it->second.last_seen_ms >= it->second.session_timeout_ms) {
        expired.push_back(it->first);
        it = g.members.erase(it);
        any = true;
      } else {
        ++it;
      }
    }
    if (any) rebalance(g);
  }
  return expired;
}

std::int64_t group_coordinator::next_deadline() const {
  std::int64_t earliest = INT64_MAX;
  for (const auto& [name, g] : groups_) {
    for (const auto& [id, m] : g.members) earliest = std::min(earliest, m.last_seen_ms + m.session_timeout_ms);
  }
  return earliest;
}

std::vector<topic_partition> group_coordinator::assigned(const std::string& group, const std::string& member_id) const {
  auto g = groups_.find(group);
  if (g == groups_.end()) return {};
  auto it = g->second.current.find(member_id);
  return it == g->second.current.end() ? std::vector<topic_partition>{} : it->second;
}

std::int32_t group_coordinator::generation(const std::string& group) const {
  auto g = groups_.find(group);
  return g == groups_.end() ? 0 : g->second.generation;
}

std::vector<std::string> group_coordinator::members(const std::string& group) const {
  std::vector<std::string> out;
  if (auto g = groups_.find(group); g != groups_.end()) {
    for (const auto& [id, m] : g->second.members) out.push_back(id);
  }
  return out;
}

const std::vector<topic_partition>& group_coordinator::last_moved(const std::string& group) const {
  static const std::vector<topic_partition> none;
  auto g = groups_.find(group);
  return g == groups_.end() ? none : g->second.moved;
}

error_code group_coordinator::commit(const std::string& group, const std::string& member_id, std::int32_t generation,
                                     const topic_partition& tp, std::int64_t offset) {
  auto g = groups_.find(group);
  if (g == groups_.end() || !g->second.members.contains(member_id)) return error_code::unknown_member_id;
  if (generation != g->second.generation) return error_code::illegal_generation;
  g->second.offsets[tp] = offset;
  return error_code::none;
}

std::optional<std::int64_t> group_coordinator::committed(const std::string& group, const topic_partition& tp) const {
  auto g = groups_.find(group);
  if (g == groups_.end()) return std::nullopt;
  auto it = g->second.offsets.find(tp);
  return it == g->second.offsets.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

}  // namespace mqlab::broker::kafka
