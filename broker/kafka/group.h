// Consumer groups: the group coordinator's view. Members join with their subscriptions; any
// membership change (join, leave, session timeout) is a rebalance that bumps the generation
// and recomputes the assignment with the group's assignor (range, roundrobin or
// cooperative-sticky); members on an old generation are told REBALANCE_IN_PROGRESS and must
// rejoin, and their commits fail with ILLEGAL_GENERATION. Each partition goes to at most one
// member of a group, so members beyond the partition count sit idle, while every group reads
// every record. Committed offsets are per group: committing N means everything before N is done.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/kafka/errors.h"

namespace mqlab::broker::kafka {

struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const topic_partition&) const = default;
};

using assignment = std::map<std::string, std::vector<topic_partition>>;  // member -> partitions

enum class assignor_kind { range, round_robin, cooperative_sticky };

struct member_subscription {
  std::string member_id;
  std::vector<std::string> topics;
};

/// Computes an assignment. `previous` matters only to cooperative-sticky.
assignment assign(assignor_kind kind, const std::vector<member_subscription>& members,
                  const std::map<std::string, std::int32_t>& partitions_per_topic, const assignment& previous = {});

/// Partitions that changed owner between two assignments.
std::vector<topic_partition> moved_partitions(const assignment& before, const assignment& after);

class group_coordinator {
 public:
  /// Topics and their partition counts (from the cluster's metadata).
  void set_partitions(const std::string& topic, std::int32_t partitions);

  struct join_result {
    std::string member_id;
    std::int32_t generation = 0;
    std::vector<topic_partition> assignment;
  };
  /// Joins (member_id "" asks for a new id) or rejoins. A new member or changed subscription
  /// rebalances the group.
  join_result join(const std::string& group, const std::string& member_id, std::vector<std::string> topics,
                   assignor_kind assignor, std::int64_t session_timeout_ms, std::int64_t now_ms);
  error_code leave(const std::string& group, const std::string& member_id);
  /// NONE, UNKNOWN_MEMBER_ID, or REBALANCE_IN_PROGRESS when the member's generation is old.
  error_code heartbeat(const std::string& group, const std::string& member_id, std::int32_t generation,
                       std::int64_t now_ms);
  /// Expires members whose session timed out (and rebalances); returns the expired ids.
  std::vector<std::string> advance(std::int64_t now_ms);
  /// Earliest session expiry, or INT64_MAX.
  std::int64_t next_deadline() const;

  std::vector<topic_partition> assigned(const std::string& group, const std::string& member_id) const;
  std::int32_t generation(const std::string& group) const;
  std::vector<std::string> members(const std::string& group) const;
  /// Partitions that changed owner in the group's last rebalance.
  const std::vector<topic_partition>& last_moved(const std::string& group) const;

  error_code commit(const std::string& group, const std::string& member_id, std::int32_t generation,
                    const topic_partition& tp, std::int64_t offset);
  std::optional<std::int64_t> committed(const std::string& group, const topic_partition& tp) const;

 private:
  struct member {
    std::vector<std::string> topics;
    std::int64_t session_timeout_ms = 10'000;
    std::int64_t last_seen_ms = 0;
  };
  struct group_state {
    assignor_kind assignor = assignor_kind::range;
    std::int32_t generation = 0;
    std::map<std::string, member> members;
    assignment current;
    std::vector<topic_partition> moved;
    std::map<topic_partition, std::int64_t> offsets;
  };
  void rebalance(group_state& g);

  std::map<std::string, group_state> groups_;
  std::map<std::string, std::int32_t> partitions_;
  std::uint64_t next_member_ = 1;
};

}  // namespace mqlab::broker::kafka
