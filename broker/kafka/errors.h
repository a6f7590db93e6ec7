// Kafka protocol error codes (the subset the core produces), mirroring the wire values one
// for one so the network layer can send them unchanged.
#pragma once

#include <cstdint>
#include <string>

namespace mqlab::broker::kafka {

enum class error_code : std::int16_t {
  unknown_server_error = -1,
  none = 0,
  offset_out_of_range = 1,
  corrupt_message = 2,
  unknown_topic_or_partition = 3,
  leader_not_available = 5,
  not_leader_or_follower = 6,
  request_timed_out = 7,
  message_too_large = 10,
  coordinator_not_available = 15,
  not_coordinator = 16,
  invalid_topic = 17,
  illegal_generation = 22,
  inconsistent_group_protocol = 23,
  invalid_group_id = 24,
  unknown_member_id = 25,
  invalid_session_timeout = 26,
  rebalance_in_progress = 27,
  unsupported_version = 35,
  topic_already_exists = 36,
  invalid_partitions = 37,
  invalid_replication_factor = 38,
  invalid_request = 42,
  kafka_storage_error = 56,
  policy_violation = 44,
  unsupported_compression_type = 76,
  throttling_quota_exceeded = 89,
  not_enough_replicas = 19,
  not_enough_replicas_after_append = 20,
  invalid_required_acks = 21,
  invalid_config = 40,
};

/// Kafka's upper-case name, e.g. "NOT_ENOUGH_REPLICAS".
const char* error_name(error_code c);

struct error {
  error_code code = error_code::none;
  std::string message;
};

}  // namespace mqlab::broker::kafka
