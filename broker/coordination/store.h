// ZooKeeper's role as a state machine: a tree of nodes with data and versions; persistent,
// ephemeral and sequential nodes; sessions that expire without heartbeats (taking their
// ephemeral nodes with them); one-shot watches on data and children; conditional set and
// delete by version. The Kafka model registers brokers and elects its controller here, and
// the seed's recipes (lock, leader election, queue) run on it directly. No I/O, no clock.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mqlab::broker::coordination {

/// ZooKeeper's KeeperException codes.
enum class zk_error : std::int32_t {
  ok = 0,
  bad_arguments = -8,
  no_node = -101,
  bad_version = -103,
  no_children_for_ephemerals = -108,
  node_exists = -110,
  not_empty = -111,
  session_expired = -112,
};

enum class create_mode { persistent, ephemeral, persistent_sequential, ephemeral_sequential };

using session_id = std::int64_t;

struct node_stat {
  std::int32_t version = 0;          // data changes
  std::int32_t cversion = 0;         // child changes
  session_id ephemeral_owner = 0;    // 0 for persistent nodes
  std::int32_t num_children = 0;
};

struct watch_event {
  enum class kind { created, deleted, data_changed, children_changed };
  kind type;
  std::string path;
  session_id session;  // whose watch fired
};

class store {
 public:
  store();

  session_id open_session(std::int64_t timeout_ms, std::int64_t now_ms);
  /// A heartbeat; false if the session has expired or was closed.
  bool touch(session_id s, std::int64_t now_ms);
  /// Closes the session; its ephemeral nodes go.
  void close_session(session_id s);
  /// Expires sessions not heard from within their timeout.
  void advance(std::int64_t now_ms);
  bool session_alive(session_id s) const { return sessions_.contains(s); }

  /// Creates a node; returns its path (with the 10-digit sequence suffix for sequential nodes).
  std::expected<std::string, zk_error> create(session_id s, const std::string& path, std::string data, create_mode mode);
  /// Data and stat; `watch` leaves a one-shot data watch (fires on change or delete).
  std::expected<std::pair<std::string, node_stat>, zk_error> get(const std::string& path, session_id watch = 0);
  /// Stat if the node exists; `watch` fires on create, change or delete.
  std::expected<node_stat, zk_error> exists(const std::string& path, session_id watch = 0);
  /// Sets data if `expected_version` matches (-1: any version).
  std::expected<node_stat, zk_error> set(const std::string& path, std::string data, std::int32_t expected_version = -1);
  /// Deletes a childless node if `expected_version` matches (-1: any version).
  zk_error remove(const std::string& path, std::int32_t expected_version = -1);
  /// Child names, sorted; `watch` fires when children are added or removed.
  std::expected<std::vector<std::string>, zk_error> children(const std::string& path, session_id watch = 0);

  /// Watch notifications since the last call, in order.
  std::vector<watch_event> take_events();

 private:
  struct node {
    std::string data;
    node_stat stat;
    std::int64_t next_sequence = 0;
  };
  struct session {
    std::int64_t timeout_ms;
    std::int64_t last_seen_ms;
  };
  static std::string parent_of(const std::string& path);
  void fire(std::map<std::string, std::set<session_id>>& watches, const std::string& path, watch_event::kind k);
  void erase_node(const std::string& path);

  std::map<std::string, node> nodes_;
  std::map<session_id, session> sessions_;
  std::map<std::string, std::set<session_id>> data_watches_, child_watches_, exist_watches_;
  std::vector<watch_event> events_;
  session_id next_session_ = 1;
};

}  // namespace mqlab::broker::coordination
