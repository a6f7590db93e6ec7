// The advertised API table and the request header.
#include "net/kafka/protocol.h"

#include <algorithm>
#include <string>

namespace mqlab::net::kafka {

namespace {

constexpr api_range apis[] = {
    {api_key::produce, 0, 3},          {api_key::fetch, 0, 4},         {api_key::list_offsets, 0, 1},
    {api_key::metadata, 0, 4},         {api_key::offset_commit, 0, 2}, {api_key::offset_fetch, 0, 1},
    {api_key::find_coordinator, 0, 0}, {api_key::join_group, 0, 2},    {api_key::heartbeat, 0, 1},
    {api_key::leave_group, 0, 1},      {api_key::sync_group, 0, 1},    {api_key::api_versions, 0, 2},
    {api_key::create_topics, 0, 4},
};

constexpr std::pair<api_key, const char*> names[] = {
    {api_key::produce, "Produce"},         {api_key::fetch, "Fetch"},
    {api_key::list_offsets, "ListOffsets"}, {api_key::metadata, "Metadata"},
    {api_key::offset_commit, "OffsetCommit"}, {api_key::offset_fetch, "OffsetFetch"},
    {api_key::find_coordinator, "FindCoordinator"}, {api_key::join_group, "JoinGroup"},
    {api_key::heartbeat, "Heartbeat"},     {api_key::leave_group, "LeaveGroup"},
    {api_key::sync_group, "SyncGroup"},    {api_key::api_versions, "ApiVersions"},
    {api_key::create_topics, "CreateTopics"},
};

}  // namespace

std::span<const api_range> supported_apis() { return apis; }

std::optional<api_range> find_api(std::int16_t key) {
  auto it = std::ranges::find(apis, static_cast<api_key>(key), &api_range::key);
  if (it == std::end(apis)) return std::nullopt;
  return *it;
}

std::string api_name(std::int16_t key) {
  auto it = std::ranges::find(names, static_cast<api_key>(key), &std::pair<api_key, const char*>::first);
  return it == std::end(names) ? "api " + std::to_string(key) : it->second;
}

request_header read_request_header(wire_reader& in) {
  request_header h;
  h.api_key = in.int16();
  h.api_version = in.int16();
  h.correlation_id = in.int32();
  h.client_id = in.nullable_string();
  return h;
}

}  // namespace mqlab::net::kafka
