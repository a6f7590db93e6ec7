// The group coordinator of a Kafka cluster: every consumer group by name, each run by the
// JoinGroup/SyncGroup state machine in consumer_group.h with its committed offsets. The
// network server and the in-process consumers (client.h) use this same coordinator, so what
// the simulation prices is what the server runs. Replies that had to wait (a join completing
// when the last member rejoins, a follower's sync when the leader's comes) are collected here:
// an in-process client takes its own by tag, a server takes all and routes them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/kafka/consumer_group.h"

namespace mqlab::broker::kafka {

class group_coordinator {
 public:
  /// Session timeouts outside [min, max] are refused (group.min/max.session.timeout.ms).
  explicit group_coordinator(std::int64_t min_session_timeout_ms = 6'000, std::int64_t max_session_timeout_ms = 1'800'000);

  /// The group named `name`, created empty on first use.
  consumer_group& group(const std::string& name);
  /// The group named `name`, or null when nobody has used it.
  const consumer_group* find(const std::string& name) const;
  std::vector<std::string> names() const;

  /// A tag no other request to this coordinator has: a join or sync reply comes back with it.
  std::uint64_t next_tag() { return next_tag_++; }
  /// The waiting reply tagged `tag`, once it is there.
  std::optional<group_reply> take_reply(std::uint64_t tag);
  /// Every waiting reply, of every group.
  std::vector<group_reply> take_replies();

  /// Expires silent members and ends overdue rebalances in every group.
  void advance(std::int64_t now_ms);
  /// Earliest deadline of any group, or INT64_MAX.
  std::int64_t next_deadline() const;

 private:
  void collect();

  std::int64_t min_session_ms_, max_session_ms_;
  std::map<std::string, consumer_group> groups_;
  std::unordered_map<std::uint64_t, group_reply> waiting_;
  std::uint64_t next_tag_ = 1;
};

}  // namespace mqlab::broker::kafka
