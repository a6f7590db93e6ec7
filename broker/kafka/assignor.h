// Partition assignment as the Java client does it on the group leader (RangeAssignor,
// RoundRobinAssignor, CooperativeStickyAssignor's balance-while-keeping-owners rule), and the
// bytes a consumer puts in JoinGroup and SyncGroup: ConsumerProtocolSubscription (v1: topics,
// user data, owned partitions) and ConsumerProtocolAssignment (v0), which the coordinator
// passes along without reading.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mqlab::broker::kafka {

struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const topic_partition&) const = default;
};

using assignment = std::map<std::string, std::vector<topic_partition>>;  // member -> partitions

enum class assignor_kind { range, round_robin, cooperative_sticky };

/// The protocol name a consumer offers for `kind` in JoinGroup ("range", "roundrobin",
/// "cooperative-sticky"), and back.
std::string_view assignor_name(assignor_kind kind);
std::optional<assignor_kind> assignor_named(std::string_view name);

struct member_subscription {
  std::string member_id;
  std::vector<std::string> topics;
  std::vector<topic_partition> owned;  // what it held before the rebalance (sticky assignors)
};

/// Computes an assignment. `previous` matters only to cooperative-sticky.
assignment assign(assignor_kind kind, const std::vector<member_subscription>& members,
                  const std::map<std::string, std::int32_t>& partitions_per_topic, const assignment& previous = {});

/// Partitions that changed owner between two assignments.
std::vector<topic_partition> moved_partitions(const assignment& before, const assignment& after);

/// ConsumerProtocolSubscription v1 (member_id is not part of it).
std::string encode_subscription(const member_subscription& s);
/// nullopt when the bytes are not a subscription of version 0 or later.
std::optional<member_subscription> decode_subscription(std::string_view bytes);
/// ConsumerProtocolAssignment v0.
std::string encode_assignment(const std::vector<topic_partition>& partitions);
std::optional<std::vector<topic_partition>> decode_assignment(std::string_view bytes);

}  // namespace mqlab::broker::kafka
