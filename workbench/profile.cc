// Reading profiles: a fixed vocabulary of work kinds per broker personality, each a
// {ns: N, source: TEXT} (bytes: {ns_per_byte: N, source: TEXT}), plus node resources and links.
#include "workbench/profile.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "sim/time.h"
#include "workbench/labs.h"

namespace mqlab::workbench {

namespace fs = std::filesystem;

namespace {

using broker::work_kind;

/// The YAML name of each work kind, in work_kind order.
constexpr const char* kind_names[broker::work_kinds] = {
    "frame",          "route_direct",      "route_fanout",        "route_topic",  "route_headers",
    "binding_examined", "enqueue",         "deliver",             "stored",       "ack",          "confirm",
    "bytes",          "persist_bytes",     "fsync_request",       "mirror_copy",  "mirror_settle",
    "transfer",       "record_appended",   "fetch",               "record_fetched", "record_replicated",
    "selector_evaluation", "memory_grown", "socket_read"};

}  // namespace

std::string_view work_kind_name(work_kind k) { return kind_names[static_cast<std::size_t>(k)]; }

bool per_byte(work_kind k) {
  return k == work_kind::bytes || k == work_kind::persist_bytes || k == work_kind::memory_grown;
}

std::optional<double> read_bandwidth(yaml_reader& r, const YAML::Node& n, std::string_view what) {
  const std::string text = n.IsScalar() ? n.Scalar() : "";
  static const std::pair<const char*, double> units[] = {{"Gbit/s", 1e9 / 8}, {"Mbit/s", 1e6 / 8}, {"GB/s", 1e9},
                                                         {"MB/s", 1e6},       {"KB/s", 1e3},       {"B/s", 1}};
  double factor = 1;
  std::string number = text;
  for (const auto& [suffix, f] : units) {
    if (text.ends_with(suffix)) {
      number = text.substr(0, text.size() - std::string_view(suffix).size());
      factor = f;
      break;
    }
  }
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !(v > 0)) {
    r.error(n, fmt::format("{} must be a positive bandwidth such as 10Gbit/s or 500MB/s, got '{}'", what, text));
    return std::nullopt;
  }
  return v * factor;
}

namespace {

void read_link(yaml_reader& r, const YAML::Node& n, std::string_view where, models::link_config& link) {
  if (!r.is_map(n, where)) return;
  r.check_keys(n, {"latency", "bandwidth", "source"}, where);
  if (n["latency"]) {
    if (auto d = r.time_distribution(n["latency"], "latency")) link.latency = *d;
  }
  if (n["bandwidth"]) link.bandwidth = read_bandwidth(r, n["bandwidth"], "bandwidth").value_or(link.bandwidth);
}

void read_costs(yaml_reader& r, const YAML::Node& n, std::string_view where, models::cost_table& table) {
  if (!r.is_map(n, where)) return;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    const auto* it = std::find(std::begin(kind_names), std::end(kind_names), key);
    if (it == std::end(kind_names)) {
      const std::string hint = nearest(key, {std::begin(kind_names), std::end(kind_names)});
      r.error(kv.first, hint.empty() ? fmt::format("unknown operation '{}' in {}", key, where)
                                     : fmt::format("unknown operation '{}' in {} (did you mean '{}'?)", key, where, hint));
      continue;
    }
    const char* unit = per_byte(static_cast<work_kind>(it - std::begin(kind_names))) ? "ns_per_byte" : "ns";
    const YAML::Node entry = kv.second;
    const std::string what = fmt::format("{}.{}", where, key);
    if (!r.is_map(entry, what)) continue;
    r.check_keys(entry, {unit, "source"}, what);
    if (!r.require(entry, unit, what) || !r.require(entry, "source", what)) continue;
    if (auto v = r.number(entry[unit], unit)) {
      if (*v < 0) r.error(entry[unit], fmt::format("{} must not be negative", what));
      else table.ns[static_cast<std::size_t>(it - std::begin(kind_names))] = *v;
    }
  }
}

fs::path profile_path(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".yaml")) return name_or_path;
  return bundled_profiles_dir() / (name_or_path + ".yaml");
}

}  // namespace

fs::path bundled_profiles_dir() { return project_dir("MQLAB_PROFILES", "profiles"); }

void read_node_resources(yaml_reader& r, const YAML::Node& n, models::node_resources& node) {
  if (!r.is_map(n, "node")) return;
  r.check_keys(n, {"cores", "wake_up", "write_coalescing", "disk", "nic", "source"}, "node");
  if (n["cores"]) node.cores = static_cast<int>(r.integer(n["cores"], "cores", 1, 1024).value_or(node.cores));
  if (n["wake_up"]) node.wake_up = r.duration(n["wake_up"], "wake_up").value_or(node.wake_up);
  if (n["write_coalescing"]) {
    node.write_coalescing = r.duration(n["write_coalescing"], "write_coalescing").value_or(node.write_coalescing);
  }
  if (const YAML::Node d = n["disk"]; d && r.is_map(d, "disk")) {
    r.check_keys(d, {"write_bandwidth", "fsync", "group_commit", "dirty_limit", "source"}, "disk");
    if (d["dirty_limit"]) {
      const auto limit = r.integer(d["dirty_limit"], "dirty_limit", 0, std::int64_t{1} << 40);
      node.disk.dirty_limit = limit ? static_cast<std::uint64_t>(*limit) : node.disk.dirty_limit;
    }
    if (d["group_commit"]) node.disk.group_commit = r.boolean(d["group_commit"], "group_commit").value_or(true);
    if (d["write_bandwidth"]) node.disk.write_bandwidth = read_bandwidth(r, d["write_bandwidth"], "write_bandwidth").value_or(node.disk.write_bandwidth);
    if (d["fsync"]) {
      if (auto f = r.time_distribution(d["fsync"], "fsync")) node.disk.fsync = *f;
    }
  }
  if (const YAML::Node nic = n["nic"]; nic && r.is_map(nic, "nic")) {
    r.check_keys(nic, {"bandwidth", "source"}, "nic");
    if (nic["bandwidth"]) node.nic_bandwidth = read_bandwidth(r, nic["bandwidth"], "bandwidth").value_or(node.nic_bandwidth);
  }
}

void read_nodes(yaml_reader& r, const YAML::Node& n, models::cost_model& costs) {
  if (!r.is_map(n, "nodes")) return;
  for (const auto& kv : n) {
    const auto number = r.integer(kv.first, "a node number", 0, 63);
    if (!number) continue;
    // A named node starts from every node's resources and changes what it says.
    auto [it, fresh] = costs.per_node.try_emplace(static_cast<std::uint32_t>(*number), costs.node);
    read_node_resources(r, kv.second, it->second);
  }
}

void read_links(yaml_reader& r, const YAML::Node& n, models::cost_model& costs) {
  if (!r.is_map(n, "links")) return;
  r.check_keys(n, {"client", "nodes", "source"}, "links");
  if (n["client"]) read_link(r, n["client"], "links.client", costs.client_link);
  if (n["nodes"]) read_link(r, n["nodes"], "links.nodes", costs.node_link);
}

void read_clients(yaml_reader& r, const YAML::Node& n, models::client_host_config& clients) {
  if (!r.is_map(n, "clients")) return;
  r.check_keys(n, {"cores", "send", "receive", "socket_call", "wake", "wake_up", "stalls", "kafka", "source"}, "clients");
  if (!r.require(n, "cores", "clients")) return;
  clients.cores = static_cast<int>(r.integer(n["cores"], "cores", 1, 1024).value_or(1));
  for (auto [key, to] : {std::pair{"send", &clients.send}, std::pair{"receive", &clients.receive},
                         std::pair{"socket_call", &clients.socket_call}, std::pair{"wake_up", &clients.wake_up}}) {
    if (n[key]) *to = r.duration(n[key], key).value_or(sim::duration{});
  }
  if (n["wake"]) clients.wake = r.time_distribution(n["wake"], "wake");
  if (const YAML::Node k = n["kafka"]; k && r.is_map(k, "clients.kafka")) {
    r.check_keys(k, {"record", "request", "source"}, "clients.kafka");
    for (auto [key, to] : {std::pair{"record", &clients.kafka_record}, std::pair{"request", &clients.kafka_request}}) {
      if (k[key]) *to = r.duration(k[key], key).value_or(sim::duration{});
    }
  }
  if (const YAML::Node st = n["stalls"]; st && r.is_map(st, "stalls")) {
    r.check_keys(st, {"rate", "for"}, "stalls");
    if (!r.require(st, "rate", "stalls") || !r.require(st, "for", "stalls")) return;
    clients.stalls_per_second = r.rate(st["rate"], "rate").value_or(0);
    clients.stall = r.time_distribution(st["for"], "for");
  }
}

void read_host(yaml_reader& r, const YAML::Node& n, models::cost_model& costs) {
  if (!r.is_map(n, "host")) return;
  r.check_keys(n, {"cores", "source"}, "host");
  if (!r.require(n, "cores", "host")) return;
  costs.host_cores = static_cast<int>(r.integer(n["cores"], "cores", 1, 1024).value_or(1));
}

std::expected<models::cost_model, std::string> load_profile(const std::string& name_or_path) {
  models::cost_model costs;
  if (name_or_path == "ideal") return costs;
  const fs::path path = profile_path(name_or_path);
  constexpr std::uintmax_t max_profile_bytes = 1 << 20;  // a profile is a page of numbers
  std::error_code ec;
  if (const auto size = fs::file_size(path, ec); !ec && size > max_profile_bytes) {
    return std::unexpected(fmt::format("profile '{}' ({}) is {} bytes, more than the limit of {}", name_or_path,
                                       path.string(), size, max_profile_bytes));
  }
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("cannot open profile '{}' ({})", name_or_path, path.string()));
  std::stringstream text;
  text << in.rdbuf();
  diagnostics d;
  yaml_reader r(d);
  try {
    const YAML::Node root = YAML::Load(text.str());
    if (r.is_map(root, "a profile")) {
      r.check_keys(root, {"name", "title", "date", "machine", "host", "node", "links", "clients", "amqp", "kafka", "jms",
                              "calibration"},
                   "a profile");
      if (root["node"]) read_node_resources(r, root["node"], costs.node);
      if (root["clients"]) read_clients(r, root["clients"], costs.clients);
      if (root["host"]) read_host(r, root["host"], costs);
      if (root["links"]) read_links(r, root["links"], costs);
      for (auto [key, table] : {std::pair{"amqp", &costs.amqp}, std::pair{"kafka", &costs.kafka}, std::pair{"jms", &costs.jms}}) {
        if (root[key]) read_costs(r, root[key], key, *table);
      }
    }
  } catch (const YAML::Exception& e) {
    d.add(e.mark.line + 1, e.mark.column + 1, "YAML syntax error: " + e.msg);
  }
  if (!d.empty()) {
    std::string report = d.format(path.string());
    if (report.ends_with('\n')) report.pop_back();
    return std::unexpected(report);
  }
  costs.profile = name_or_path;
  costs.ideal = false;
  return costs;
}

}  // namespace mqlab::workbench
