// The node tree is an ordered map of full paths, so a node's children are the keys that
// extend "path/" up to the next separator.
#include "broker/coordination/store.h"

#include <algorithm>

#include <fmt/format.h>

namespace mqlab::broker::coordination {

store::store() { nodes_["/"] = node{}; }

std::string store::parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

session_id store::open_session(std::int64_t timeout_ms, std::int64_t now_ms) {
  const session_id s = next_session_++;
  sessions_[s] = session{timeout_ms, now_ms};
  return s;
}

bool store::touch(session_id s, std::int64_t now_ms) {
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return false;
  it->second.last_seen_ms = now_ms;
  return true;
}

void store::close_session(session_id s) {
  if (sessions_.erase(s) == 0) return;
  std::vector<std::string> owned;
  for (const auto& [path, n] : nodes_) {
    if (n.stat.ephemeral_owner == s) owned.push_back(path);
  }
  for (const auto& path : owned) erase_node(path);
}

void store::advance(std::int64_t now_ms) {
  std::vector<session_id> expired;
  for (const auto& [id, s] : sessions_) {
    if (now_ms - s.last_seen_ms >= s.timeout_ms) expired.push_back(id);
  }
  for (session_id id : expired) close_session(id);
}

void store::fire(std::map<std::string, std::set<session_id>>& watches, const std::string& path, watch_event::kind k) {
  auto it = watches.find(path);
  if (it == watches.end()) return;
  for (session_id s : it->second) events_.push_back(watch_event{k, path, s});
  watches.erase(it);  // watches are one-shot
}

void store::erase_node(const std::string& path) {
  nodes_.erase(path);
  fire(data_watches_, path, watch_event::kind::deleted);
  fire(exist_watches_, path, watch_event::kind::deleted);
  fire(child_watches_, path, watch_event::kind::deleted);
  const std::string parent = parent_of(path);
  auto& p = nodes_.at(parent);
  --p.stat.num_children;
  ++p.stat.cversion;
  fire(child_watches_, parent, watch_event::kind::children_changed);
}

std::expected<std::string, zk_error> store::create(session_id s, const std::string& path, std::string data,
                                                   create_mode mode) {
  if (path.empty() || path[0] != '/' || (path.size() > 1 && path.back() == '/')) return std::unexpected(zk_error::bad_arguments);
  const bool ephemeral = mode == create_mode::ephemeral || mode == create_mode::ephemeral_sequential;
  if (ephemeral && !sessions_.contains(s)) return std::unexpected(zk_error::session_expired);
  const std::string parent = parent_of(path);
  auto p = nodes_.find(parent);
  if (p == nodes_.end()) return std::unexpected(zk_error::no_node);
  if (p->second.stat.ephemeral_owner != 0) return std::unexpected(zk_error::no_children_for_ephemerals);
  std::string actual = path;
  if (mode == create_mode::persistent_sequential || mode == create_mode::ephemeral_sequential) {
    actual += fmt::format("{:010d}", p->second.next_sequence++);
  }
  if (nodes_.contains(actual)) return std::unexpected(zk_error::node_exists);
  node n;
  n.data = std::move(data);
  n.stat.ephemeral_owner = ephemeral ? s : 0;
  nodes_.emplace(actual, std::move(n));
  ++p->second.stat.num_children;
  ++p->second.stat.cversion;
  fire(exist_watches_, actual, watch_event::kind::created);
  fire(child_watches_, parent, watch_event::kind::children_changed);
  return actual;
}

std::expected<std::pair<std::string, node_stat>, zk_error> store::get(const std::string& path, session_id watch) {
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return std::unexpected(zk_error::no_node);
  if (watch != 0) data_watches_[path].insert(watch);
  return std::pair{it->second.data, it->second.stat};
}

std::expected<node_stat, zk_error> store::exists(const std::string& path, session_id watch) {
  if (watch != 0) exist_watches_[path].insert(watch);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return std::unexpected(zk_error::no_node);
  return it->second.stat;
}

std::expected<node_stat, zk_error> store::set(const std::string& path, std::string data, std::int32_t expected_version) {
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return std::unexpected(zk_error::no_node);
  if (expected_version != -1 && expected_version != it->second.stat.version) return std::unexpected(zk_error::bad_version);
  it->second.data = std::move(data);
  ++it->second.stat.version;
  const node_stat stat = it->second.stat;
  fire(data_watches_, path, watch_event::kind::data_changed);
  fire(exist_watches_, path, watch_event::kind::data_changed);
  return stat;
}

zk_error store::remove(const std::string& path, std::int32_t expected_version) {
  auto it = nodes_.find(path);
  if (path == "/" || it == nodes_.end()) return zk_error::no_node;
  if (expected_version != -1 && expected_version != it->second.stat.version) return zk_error::bad_version;
  if (it->second.stat.num_children > 0) return zk_error::not_empty;
  erase_node(path);
  return zk_error::ok;
}

std::expected<std::vector<std::string>, zk_error> store::children(const std::string& path, session_id watch) {
  if (!nodes_.contains(path)) return std::unexpected(zk_error::no_node);
  if (watch != 0) child_watches_[path].insert(watch);
  const std::string prefix = path == "/" ? "/" : path + "/";
  std::vector<std::string> out;
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end() && it->first.starts_with(prefix); ++it) {
    const std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

std::vector<watch_event> store::take_events() {
  std::vector<watch_event> out;
  out.swap(events_);
  return out;
}

}  // namespace mqlab::broker::coordination
