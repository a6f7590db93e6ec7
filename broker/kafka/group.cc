// The coordinator's registry of groups and the replies waiting for their callers.
#include "broker/kafka/group.h"

#include <algorithm>

namespace mqlab::broker::kafka {

group_coordinator::group_coordinator(std::int64_t min_session_timeout_ms, std::int64_t max_session_timeout_ms)
    : min_session_ms_(min_session_timeout_ms), max_session_ms_(max_session_timeout_ms) {}

consumer_group& group_coordinator::group(const std::string& name) {
  return groups_.try_emplace(name, min_session_ms_, max_session_ms_).first->second;
}

const consumer_group* group_coordinator::find(const std::string& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

std::vector<std::string> group_coordinator::names() const {
  std::vector<std::string> out;
  for (const auto& [name, g] : groups_) out.push_back(name);
  return out;
}

void group_coordinator::collect() {
  for (auto& [name, g] : groups_) {
    for (auto& reply : g.take_replies()) {
      const std::uint64_t tag = std::visit([](const auto& r) { return r.tag; }, reply);
      waiting_.insert_or_assign(tag, std::move(reply));
    }
  }
}

std::optional<group_reply> group_coordinator::take_reply(std::uint64_t tag) {
  collect();
  auto it = waiting_.find(tag);
  if (it == waiting_.end()) return std::nullopt;
  group_reply reply = std::move(it->second);
  waiting_.erase(it);
  return reply;
}

std::vector<group_reply> group_coordinator::take_replies() {
  collect();
  std::vector<std::pair<std::uint64_t, group_reply>> all(std::make_move_iterator(waiting_.begin()),
                                                          std::make_move_iterator(waiting_.end()));
  waiting_.clear();
  std::ranges::sort(all, {}, &std::pair<std::uint64_t, group_reply>::first);  // in the order they were asked
  std::vector<group_reply> out;
  for (auto& [tag, reply] : all) out.push_back(std::move(reply));
  return out;
}

void group_coordinator::advance(std::int64_t now_ms) {
  for (auto& [name, g] : groups_) g.advance(now_ms);
}

std::int64_t group_coordinator::next_deadline() const {
  std::int64_t t = INT64_MAX;
  for (const auto& [name, g] : groups_) t = std::min(t, g.next_deadline());
  return t;
}

}  // namespace mqlab::broker::kafka
