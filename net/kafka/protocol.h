// The Kafka APIs this broker speaks and the exact version ranges it advertises (see
// shared/kafka-protocol-notes.md: advertising more changes what kafka-python sends, and
// librdkafka needs min 0 everywhere), plus the request header every request starts with.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

enum class api_key : std::int16_t {
  produce = 0,
  fetch = 1,
  list_offsets = 2,
  metadata = 3,
  offset_commit = 8,
  offset_fetch = 9,
  find_coordinator = 10,
  join_group = 11,
  heartbeat = 12,
  leave_group = 13,
  sync_group = 14,
  api_versions = 18,
  create_topics = 19,
};

struct api_range {
  api_key key;
  std::int16_t min = 0, max = 0;
};

/// Every API served, with its advertised versions (all non-flexible).
std::span<const api_range> supported_apis();
/// The advertised range of `key`, if served.
std::optional<api_range> find_api(std::int16_t key);
/// "Produce", "Fetch", ... as Kafka names them; "api 42" for others.
std::string api_name(std::int16_t key);

/// Request header v1 (v2 for flexible versions adds tagged fields, which only an ApiVersions
/// probe above our range sends; that one is answered without reading them).
struct request_header {
  std::int16_t api_key = 0;
  std::int16_t api_version = 0;
  std::int32_t correlation_id = 0;
  std::optional<std::string_view> client_id;
};

/// Reads the header from the start of a request; throws wire_error.
request_header read_request_header(wire_reader& in);

/// Largest request accepted (socket.request.max.bytes); a larger size prefix closes the connection.
inline constexpr std::int32_t max_request_size = 100 * 1024 * 1024;

}  // namespace mqlab::net::kafka
