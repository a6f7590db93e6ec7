// Cost profiles (profiles/NAME.yaml): what each broker operation costs and the resources a
// node has, every number with its unit and its source. A scenario picks one with `profile:`
// (a name looked up in the project's profiles/ folder, or a path) and may override the
// resources under broker.node and links; `ideal` is built in and costs nothing.
#pragma once

#include <expected>
#include <filesystem>
#include <string>

#include <yaml-cpp/yaml.h>

#include "models/system.h"
#include "workbench/yaml_reader.h"

namespace mqlab::workbench {

/// $MQLAB_PROFILES, else the nearest "profiles" folder above the running executable, else "profiles".
std::filesystem::path bundled_profiles_dir();

/// Loads a profile by name (profiles/NAME.yaml) or by path (it contains a '/' or ends in
/// .yaml). The error names the file, line and column of each problem.
std::expected<models::cost_model, std::string> load_profile(const std::string& name_or_path);

/// A work kind's name in a profile ("frame", "route_direct", ...).
std::string_view work_kind_name(broker::work_kind k);
/// True for the kinds priced per byte (ns_per_byte) rather than per operation (ns).
bool per_byte(broker::work_kind k);

/// "10Gbit/s", "500MB/s" or a number of bytes per second.
std::optional<double> read_bandwidth(yaml_reader& r, const YAML::Node& n, std::string_view what);
/// Reads node resources ({cores, disk: {write_bandwidth, fsync, group_commit}, nic: {bandwidth}}) into `node`.
void read_node_resources(yaml_reader& r, const YAML::Node& n, models::node_resources& node);
/// Reads {N: node resources, ...}: the nodes that differ from the others.
void read_nodes(yaml_reader& r, const YAML::Node& n, models::cost_model& costs);
/// Reads links ({client: {latency, bandwidth}, nodes: {latency, bandwidth}}) into `costs`.
void read_links(yaml_reader& r, const YAML::Node& n, models::cost_model& costs);
/// Reads the client host ({cores, send, receive, wake}) into `clients`.
void read_clients(yaml_reader& r, const YAML::Node& n, models::client_host_config& clients);
/// Reads the machine every node and client shares ({cores}) into costs.host_cores.
void read_host(yaml_reader& r, const YAML::Node& n, models::cost_model& costs);

}  // namespace mqlab::workbench
