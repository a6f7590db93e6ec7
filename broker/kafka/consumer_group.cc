// The JoinGroup/SyncGroup state machine: Empty → PreparingRebalance → CompletingRebalance →
// Stable, following Kafka 2.x's GroupCoordinator (error codes, keep-alive of members waiting
// on a reply, commits refused only while the assignment is being handed out).
#include "broker/kafka/consumer_group.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace mqlab::broker::kafka {

consumer_group::consumer_group(std::int64_t min_session_timeout_ms, std::int64_t max_session_timeout_ms)
    : min_session_ms_(min_session_timeout_ms), max_session_ms_(max_session_timeout_ms) {}

error_code consumer_group::admit(const join_request& r) const {
  if (r.session_timeout_ms < min_session_ms_ || r.session_timeout_ms > max_session_ms_) {
    return error_code::invalid_session_timeout;
  }
  if (!r.member_id.empty() && !members_.contains(r.member_id)) return error_code::unknown_member_id;
  if (r.protocols.empty() || r.protocol_type.empty()) return error_code::inconsistent_group_protocol;
  if (members_.empty() || (members_.size() == 1 && members_.contains(r.member_id))) return error_code::none;
  if (r.protocol_type != protocol_type_) return error_code::inconsistent_group_protocol;
  // The newcomer must share at least one protocol with everyone else.
  for (const auto& p : r.protocols) {
    const bool everyone = std::ranges::all_of(members_, [&](const auto& kv) {
      return kv.first == r.member_id ||
             std::ranges::any_of(kv.second.protocols, [&](const group_protocol& q) { return q.name == p.name; });
    });
    if (everyone) return error_code::none;
  }
  return error_code::inconsistent_group_protocol;
}

bool consumer_group::same_protocols(const member& m, const join_request& r) const {
  return std::ranges::equal(m.protocols, r.protocols, [](const group_protocol& a, const group_protocol& b) {
    return a.name == b.name && a.metadata == b.metadata;
  });
}

void consumer_group::join(join_request r, std::int64_t now_ms) {
  if (const error_code e = admit(r); e != error_code::none) {
    replies_.push_back(join_reply{.tag = r.tag, .error = e, .member_id = r.member_id});
    return;
  }
  if (members_.empty()) protocol_type_ = r.protocol_type;
  std::string id = r.member_id;
  const bool known = !id.empty();
  if (!known) id = fmt::format("{}-{:08x}", r.client_id.empty() ? "consumer" : r.client_id, next_member_++);
  member& m = members_[id];
  const bool unchanged = known && same_protocols(m, r);
  m.client_id = r.client_id;
  m.session_timeout_ms = r.session_timeout_ms;
  m.rebalance_timeout_ms = r.rebalance_timeout_ms;
  m.protocols = std::move(r.protocols);
  m.last_seen_ms = now_ms;
  // A follower rejoining with what it had gets the current generation back without a rebalance.
  const bool settled = state_ == state::stable || state_ == state::completing_rebalance;
  if (unchanged && settled && (state_ == state::completing_rebalance || id != leader_)) {
    replies_.push_back(reply_for(id, r.tag));
    return;
  }
  m.pending_join = r.tag;
  if (state_ != state::preparing_rebalance) prepare_rebalance(now_ms);
  try_complete_join(now_ms);
}

void consumer_group::prepare_rebalance(std::int64_t now_ms) {
  if (state_ == state::completing_rebalance) fail_pending_syncs(error_code::rebalance_in_progress);
  state_ = state::preparing_rebalance;
  std::int64_t timeout = 0;
  for (const auto& [id, m] : members_) timeout = std::max(timeout, m.rebalance_timeout_ms);
  rebalance_deadline_ = now_ms + timeout;
}

void consumer_group::try_complete_join(std::int64_t now_ms) {
  if (state_ != state::preparing_rebalance) return;
  if (!std::ranges::all_of(members_, [](const auto& kv) { return kv.second.pending_join.has_value(); })) return;
  for (auto& [id, m] : members_) m.last_seen_ms = now_ms;  // the session timer restarts with the reply
  complete_join();
}

void consumer_group::complete_join() {
  ++generation_;
  rebalance_deadline_ = INT64_MAX;
  if (members_.empty()) {
    state_ = state::empty;
    protocol_.clear();
    leader_.clear();
    return;
  }
  protocol_ = choose_protocol();
  if (!members_.contains(leader_)) leader_ = members_.begin()->first;
  state_ = state::completing_rebalance;
  for (auto& [id, m] : members_) {
    m.assignment.clear();
    if (m.pending_join) replies_.push_back(reply_for(id, *std::exchange(m.pending_join, std::nullopt)));
  }
}

std::string consumer_group::choose_protocol() const {
  // Candidates are the protocols every member supports; each member votes for the first
  // candidate in its own preference order and the most votes win (ties: the name first in order).
  std::map<std::string, int> votes;
  for (const auto& p : members_.begin()->second.protocols) {
    if (std::ranges::all_of(members_, [&](const auto& kv) {
          return std::ranges::any_of(kv.second.protocols, [&](const group_protocol& q) { return q.name == p.name; });
        })) {
      votes[p.name] = 0;
    }
  }
  for (const auto& [id, m] : members_) {
    auto it = std::ranges::find_if(m.protocols, [&](const group_protocol& q) { return votes.contains(q.name); });
    if (it != m.protocols.end()) ++votes[it->name];
  }
  return std::ranges::max_element(votes, {}, [](const auto& kv) { return kv.second; })->first;
}

join_reply consumer_group::reply_for(const std::string& id, std::uint64_t tag) const {
  join_reply reply{.tag = tag, .generation = generation_, .protocol = protocol_, .leader = leader_, .member_id = id};
  if (id != leader_) return reply;
  for (const auto& [mid, m] : members_) {
    auto it = std::ranges::find(m.protocols, protocol_, &group_protocol::name);
    reply.members.emplace_back(mid, it == m.protocols.end() ? std::string{} : it->metadata);
  }
  return reply;
}

void consumer_group::fail_pending_syncs(error_code e) {
  for (auto& [id, m] : members_) {
    if (m.pending_sync) replies_.push_back(sync_reply{*std::exchange(m.pending_sync, std::nullopt), e, {}});
  }
}

void consumer_group::sync(std::uint64_t tag, std::int32_t generation, const std::string& member_id,
                          std::map<std::string, std::string> assignments, std::int64_t now_ms) {
  auto it = members_.find(member_id);
  error_code e = error_code::none;
  if (it == members_.end()) e = error_code::unknown_member_id;
  else if (generation != generation_) e = error_code::illegal_generation;
  else if (state_ == state::preparing_rebalance) e = error_code::rebalance_in_progress;
  if (e != error_code::none) {
    replies_.push_back(sync_reply{tag, e, {}});
    return;
  }
  member& m = it->second;
  m.last_seen_ms = now_ms;
  if (state_ == state::stable) {
    replies_.push_back(sync_reply{tag, error_code::none, m.assignment});
    return;
  }
  m.pending_sync = tag;
  if (member_id != leader_) return;  // followers wait for the leader's assignment
  for (auto& [id, each] : members_) {
    auto a = assignments.find(id);
    if (a != assignments.end()) each.assignment = std::move(a->second);
  }
  state_ = state::stable;
  for (auto& [id, each] : members_) {
    if (each.pending_sync) {
      replies_.push_back(sync_reply{*std::exchange(each.pending_sync, std::nullopt), error_code::none, each.assignment});
    }
  }
}

error_code consumer_group::heartbeat(const std::string& member_id, std::int32_t generation, std::int64_t now_ms) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return error_code::unknown_member_id;
  if (generation != generation_) return error_code::illegal_generation;
  it->second.last_seen_ms = now_ms;
  return state_ == state::preparing_rebalance ? error_code::rebalance_in_progress : error_code::none;
}

error_code consumer_group::leave(const std::string& member_id, std::int64_t now_ms) {
  if (!members_.contains(member_id)) return error_code::unknown_member_id;
  remove(member_id, now_ms);
  return error_code::none;
}

void consumer_group::remove(const std::string& id, std::int64_t now_ms) {
  members_.erase(id);
  if (id == leader_) leader_.clear();
  if (state_ == state::stable || state_ == state::completing_rebalance) prepare_rebalance(now_ms);
  try_complete_join(now_ms);
}

error_code consumer_group::commit(const std::string& member_id, std::int32_t generation, const topic_partition& tp,
                                  std::int64_t offset) {
  if (generation < 0 && state_ == state::empty) {
    offsets_[tp] = offset;  // a standalone consumer keeping only its offsets here
    return error_code::none;
  }
  // Commits from the current generation are still accepted while members rejoin (consumers
  // commit what they processed when their partitions are revoked), but not while the new
  // assignment is being handed out.
  if (state_ == state::completing_rebalance) return error_code::rebalance_in_progress;
  if (!members_.contains(member_id)) return error_code::unknown_member_id;
  if (generation != generation_) return error_code::illegal_generation;
  offsets_[tp] = offset;
  return error_code::none;
}

std::optional<std::int64_t> consumer_group::committed(const topic_partition& tp) const {
  auto it = offsets_.find(tp);
  if (it == offsets_.end()) return std::nullopt;
  return it->second;
}

void consumer_group::advance(std::int64_t now_ms) {
  // Members waiting for a join or sync reply are alive by definition.
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    if (!m.pending_join && !m.pending_sync && now_ms - m.last_seen_ms >= m.session_timeout_ms) expired.push_back(id);
  }
  for (const auto& id : expired) remove(id, now_ms);
  if (state_ == state::preparing_rebalance && now_ms >= rebalance_deadline_) {
    std::erase_if(members_, [](const auto& kv) { return !kv.second.pending_join; });
    if (!members_.contains(leader_)) leader_.clear();
    complete_join();
  }
}

std::int64_t consumer_group::next_deadline() const {
  std::int64_t t = state_ == state::preparing_rebalance ? rebalance_deadline_ : INT64_MAX;
  for (const auto& [id, m] : members_) {
    if (!m.pending_join && !m.pending_sync) t = std::min(t, m.last_seen_ms + m.session_timeout_ms);
  }
  return t;
}

std::vector<group_reply> consumer_group::take_replies() { return std::exchange(replies_, {}); }

std::vector<std::string> consumer_group::member_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, m] : members_) ids.push_back(id);
  return ids;
}

}  // namespace mqlab::broker::kafka
