// One consumer group as Kafka's group coordinator runs it for real clients (the eager
// JoinGroup/SyncGroup protocol of Kafka 2.x): JoinGroup is a barrier that completes when every
// known member has rejoined (or the rebalance timeout drops the stragglers); the coordinator
// picks a protocol all members support, names a leader and sends only the leader the members'
// subscriptions; the leader computes the assignment on the client side and hands it over in
// SyncGroup, which the coordinator forwards to each member. Replies that must wait (joins
// during a rebalance, followers' syncs before the leader's) come out of take_replies() with
// the tag the caller gave. No I/O, no clock: `now_ms` comes in.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "broker/kafka/errors.h"
#include "broker/kafka/assignor.h"

namespace mqlab::broker::kafka {

struct group_protocol {
  std::string name;      // an assignor: "range", "roundrobin", ...
  std::string metadata;  // opaque to the coordinator (the consumer's subscription)
};

struct join_request {
  std::uint64_t tag = 0;           // the caller's handle for the reply
  std::string member_id;           // "" = a new member
  std::string client_id;
  std::int64_t session_timeout_ms = 10'000;
  std::int64_t rebalance_timeout_ms = 10'000;
  std::string protocol_type;       // "consumer"
  std::vector<group_protocol> protocols;
};

struct join_reply {
  std::uint64_t tag = 0;
  error_code error = error_code::none;
  std::int32_t generation = -1;
  std::string protocol, leader, member_id;
  std::vector<std::pair<std::string, std::string>> members;  // (id, metadata), for the leader only
};

struct sync_reply {
  std::uint64_t tag = 0;
  error_code error = error_code::none;
  std::string assignment;  // opaque bytes from the leader
};

using group_reply = std::variant<join_reply, sync_reply>;

class consumer_group {
 public:
  enum class state { empty, preparing_rebalance, completing_rebalance, stable };

  /// Session timeouts outside [min, max] are refused (group.min/max.session.timeout.ms).
  explicit consumer_group(std::int64_t min_session_timeout_ms = 6'000, std::int64_t max_session_timeout_ms = 1'800'000);

  void join(join_request request, std::int64_t now_ms);
  void sync(std::uint64_t tag, std::int32_t generation, const std::string& member_id,
            std::map<std::string, std::string> assignments, std::int64_t now_ms);
  /// NONE; UNKNOWN_MEMBER_ID; ILLEGAL_GENERATION; REBALANCE_IN_PROGRESS (rejoin).
  error_code heartbeat(const std::string& member_id, std::int32_t generation, std::int64_t now_ms);
  error_code leave(const std::string& member_id, std::int64_t now_ms);
  /// A member commits within its generation; a standalone consumer (generation -1, no member)
  /// only while the group has no members.
  error_code commit(const std::string& member_id, std::int32_t generation, const topic_partition& tp,
                    std::int64_t offset);
  std::optional<std::int64_t> committed(const topic_partition& tp) const;
  const std::map<topic_partition, std::int64_t>& offsets() const { return offsets_; }

  /// Expires silent members and ends a rebalance whose timeout has passed.
  void advance(std::int64_t now_ms);
  /// When advance() has something to do next, or INT64_MAX.
  std::int64_t next_deadline() const;
  std::vector<group_reply> take_replies();

  state current_state() const { return state_; }
  std::int32_t generation() const { return generation_; }
  std::string leader() const { return leader_; }
  std::vector<std::string> member_ids() const;

 private:
  struct member {
    std::string client_id;
    std::int64_t session_timeout_ms = 10'000;
    std::int64_t rebalance_timeout_ms = 10'000;
    std::vector<group_protocol> protocols;
    std::int64_t last_seen_ms = 0;
    std::optional<std::uint64_t> pending_join, pending_sync;
    std::string assignment;
  };
  error_code admit(const join_request& r) const;
  bool same_protocols(const member& m, const join_request& r) const;
  void prepare_rebalance(std::int64_t now_ms);
  void try_complete_join(std::int64_t now_ms);
  void complete_join();
  std::string choose_protocol() const;
  join_reply reply_for(const std::string& id, std::uint64_t tag) const;
  void fail_pending_syncs(error_code e);
  void remove(const std::string& id, std::int64_t now_ms);

  std::int64_t min_session_ms_, max_session_ms_;
  state state_ = state::empty;
  std::int32_t generation_ = 0;
  std::string protocol_type_, protocol_, leader_;
  std::map<std::string, member> members_;
  std::int64_t rebalance_deadline_ = INT64_MAX;
  std::uint64_t next_member_ = 1;
  std::vector<group_reply> replies_;
  std::map<topic_partition, std::int64_t> offsets_;
};

}  // namespace mqlab::broker::kafka
