// The follower's side of replication over the network: the Fetch request a follower broker
// sends its leader (replica_id = its broker id, so the leader serves uncommitted records and
// learns how far the follower is) and the reading of the leader's response. Pure code over
// byte buffers; the server's replica fetchers do the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/kafka/errors.h"
#include "broker/kafka/group.h"

namespace mqlab::net::kafka {

/// A follower's position in one partition: the offset its next fetch starts at.
using fetch_position = std::pair<broker::kafka::topic_partition, std::int64_t>;

/// A size-prefixed Fetch v4 request from broker `follower` for these partitions; with
/// `max_wait_ms` > 0 the leader holds it until it has a record for it or that time passed.
std::string replica_fetch_request(std::int32_t follower, std::int32_t correlation_id,
                                  const std::vector<fetch_position>& positions, std::int32_t max_wait_ms);

struct fetched_partition {
  std::string topic;
  std::int32_t partition = 0;
  broker::kafka::error_code error = broker::kafka::error_code::none;
  std::string_view records;  // record batches, into the response buffer
};

/// The partitions of a Fetch v4 response, from just after its correlation id. Throws wire_error.
std::vector<fetched_partition> read_fetch_response(std::string_view body);

}  // namespace mqlab::net::kafka
