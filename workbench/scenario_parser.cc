// YAML -> scenario. Each variant is the top-level system with the keys it redefines replaced;
// errors are collected with their place in the file (errors in shared keys are reported once).
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "workbench/scenario.h"
#include "workbench/yaml_reader.h"

namespace mqlab::workbench {
namespace {

using models::pipeline;

// Keys a variant may redefine, and the other top-level keys.
#define MQLAB_SYSTEM_KEYS \
  "duration", "warmup", "sample_interval", "arrivals", "stations", "broker", "producer", "pipeline", "consumers", \
      "kafka", "faults"


// Top-level view of one variant: its own keys first, then the file's.
struct layered {
  YAML::Node base, overlay;
  YAML::Node operator[](const char* key) const {
    if (overlay.IsMap() && overlay[key]) return overlay[key];
    return base[key];
  }
};

class parser {
 public:
  explicit parser(diagnostics& d) : r_(d) {}
  std::optional<scenario> parse(const YAML::Node& root);

 private:
  std::optional<models::system_spec> system(const layered& top, std::string_view variant);
  std::shared_ptr<sim::arrival_process> arrivals(const YAML::Node& n);
  void stations(const YAML::Node& n, models::system_spec& s);
  std::optional<pipeline> steps(const YAML::Node& n, const models::system_spec& s, std::string_view where);
  std::optional<models::pipeline_step> step(const YAML::Node& n, const models::system_spec& s);
  std::optional<models::publish_step> publish(const YAML::Node& n, const YAML::Node& cost);
  void broker(const YAML::Node& n, models::system_spec& s);
  void queue(const std::string& name, const YAML::Node& n, models::system_spec& s);
  void consumers(const YAML::Node& n, models::system_spec& s);
  void kafka(const YAML::Node& n, models::system_spec& s);
  std::optional<models::produce_step> produce(const YAML::Node& n, const YAML::Node& cost, const models::system_spec& s);
  void faults(const YAML::Node& n, models::system_spec& s);
  void expectations(const YAML::Node& n, scenario& sc);

  yaml_reader r_;
};

std::optional<scenario> parser::parse(const YAML::Node& root) {
  if (!r_.is_map(root, "a scenario file")) return std::nullopt;
  const std::vector<std::string> names = {"name", "title", "description", "lesson", "seed", "replications",
                                          "variants", "expect", MQLAB_SYSTEM_KEYS};
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (std::find(names.begin(), names.end(), key) == names.end()) {
      const std::string hint = nearest(key, names);
      r_.error(kv.first, hint.empty() ? fmt::format("unknown key '{}' at the top level", key)
                                      : fmt::format("unknown key '{}' at the top level (did you mean '{}'?)", key, hint));
    }
  }
  scenario sc;
  if (r_.require(root, "name", "the scenario")) sc.name = r_.text(root["name"], "name").value_or("");
  if (root["title"]) sc.title = r_.text(root["title"], "title").value_or("");
  if (root["description"]) sc.description = r_.text(root["description"], "description").value_or("");
  if (root["lesson"]) sc.lesson = r_.text(root["lesson"], "lesson").value_or("");
  if (root["seed"]) sc.seed = static_cast<std::uint64_t>(r_.integer(root["seed"], "seed", 0, INT64_MAX).value_or(1));
  if (root["replications"]) sc.replications = static_cast<int>(r_.integer(root["replications"], "replications", 1, 1000).value_or(1));
  const YAML::Node variants = root["variants"];
  if (variants) {
    if (r_.is_map(variants, "variants")) {
      for (const auto& kv : variants) {
        const std::string name = kv.first.Scalar();
        if (!kv.second.IsMap()) {
          r_.error(kv.second, fmt::format("variant '{}' must be a mapping", name));
          continue;
        }
        r_.check_keys(kv.second, {MQLAB_SYSTEM_KEYS}, fmt::format("variant '{}'", name));
        if (auto s = system(layered{root, kv.second}, name)) sc.variants.push_back({name, std::move(*s)});
      }
    }
  } else if (auto s = system(layered{root, YAML::Node()}, "main")) {
    sc.variants.push_back({"main", std::move(*s)});
  }
  if (root["expect"]) expectations(root["expect"], sc);
  return sc;
}

std::optional<models::system_spec> parser::system(const layered& top, std::string_view variant) {
  models::system_spec s;
  const std::string where = fmt::format("variant '{}'", variant);
  auto required = [&](const char* key) {
    if (top[key]) return true;
    r_.error(top.overlay.IsMap() ? top.overlay : top.base, fmt::format("missing required key '{}' for {}", key, where));
    return false;
  };
  if (required("duration")) s.duration = r_.duration(top["duration"], "duration").value_or(s.duration);
  if (top["warmup"]) s.warmup = r_.duration(top["warmup"], "warmup").value_or(s.warmup);
  if (top["sample_interval"]) {
    s.sample_interval = r_.duration(top["sample_interval"], "sample_interval").value_or(s.sample_interval);
    if (s.sample_interval.ns() == 0) r_.error(top["sample_interval"], "sample_interval must be positive");
  }
  if (s.warmup >= s.duration) r_.error(top["warmup"] ? top["warmup"] : top["duration"], "warmup must be shorter than duration");
  if (required("arrivals")) s.arrivals = arrivals(top["arrivals"]);
  if (top["stations"]) stations(top["stations"], s);
  if (top["broker"]) broker(top["broker"], s);
  if (top["producer"]) {
    const YAML::Node p = top["producer"];
    r_.check_keys(p, {"node"}, "producer");
    if (p["node"]) s.producer_node = static_cast<std::uint32_t>(r_.integer(p["node"], "node", 0, 63).value_or(0));
  }
  if (top["consumers"]) consumers(top["consumers"], s);
  if (top["kafka"]) kafka(top["kafka"], s);
  if (required("pipeline")) {
    if (auto p = steps(top["pipeline"], s, "pipeline")) s.request = std::move(*p);
  }
  if (top["faults"]) faults(top["faults"], s);
  return s;
}

std::shared_ptr<sim::arrival_process> parser::arrivals(const YAML::Node& n) {
  if (!r_.is_map(n, "arrivals")) return nullptr;
  r_.check_keys(n, {"process", "rate", "profile", "on", "off"}, "arrivals");
  const std::string process = n["process"] ? r_.text(n["process"], "process").value_or("") : "poisson";
  if (process == "poisson" || process == "deterministic" || process == "on_off") {
    if (!r_.require(n, "rate", "arrivals")) return nullptr;
    auto rate = r_.rate(n["rate"], "rate");
    if (!rate) return nullptr;
    if (process == "poisson") return std::make_shared<sim::arrival_process>(sim::arrival_process::poisson(*rate));
    if (process == "deterministic") return std::make_shared<sim::arrival_process>(sim::arrival_process::deterministic(*rate));
    auto on = n["on"] ? r_.time_distribution(n["on"], "on") : std::nullopt;
    auto off = n["off"] ? r_.time_distribution(n["off"], "off") : std::nullopt;
    if (!on || !off) {
      r_.error(n, "on_off arrivals need 'on' and 'off' period distributions");
      return nullptr;
    }
    return std::make_shared<sim::arrival_process>(sim::arrival_process::on_off(*rate, *on, *off));
  }
  if (process == "profile") {
    if (!r_.require(n, "profile", "arrivals") || !n["profile"].IsSequence()) {
      if (n["profile"]) r_.error(n["profile"], "profile must be a list of {at: TIME, rate: RATE}");
      return nullptr;
    }
    std::vector<sim::rate_step> steps;
    for (const auto& item : n["profile"]) {
      r_.check_keys(item, {"at", "rate"}, "a profile step");
      auto at = item["at"] ? r_.duration(item["at"], "at") : std::nullopt;
      auto rate = item["rate"] ? r_.rate(item["rate"], "rate") : std::nullopt;
      if (!item["at"] || !item["rate"]) r_.error(item, "a profile step needs 'at' and 'rate'");
      if (at && rate) steps.push_back({*at, *rate});
    }
    auto p = sim::arrival_process::profile(steps);
    if (!p) {
      r_.error(n["profile"], p.error());
      return nullptr;
    }
    return std::make_shared<sim::arrival_process>(std::move(*p));
  }
  r_.error(n["process"], fmt::format("unknown arrival process '{}' (use poisson, deterministic, on_off, profile)", process));
  return nullptr;
}

void parser::stations(const YAML::Node& n, models::system_spec& s) {
  if (!r_.is_map(n, "stations")) return;
  for (const auto& kv : n) {
    const std::string name = kv.first.Scalar();
    const std::string where = fmt::format("station '{}'", name);
    const YAML::Node st = kv.second;
    if (!r_.is_map(st, where)) continue;
    r_.check_keys(st, {"servers", "service", "capacity"}, where);
    models::station_spec spec;
    if (st["servers"]) spec.servers = static_cast<int>(r_.integer(st["servers"], "servers", 1, 1'000'000).value_or(1));
    if (r_.require(st, "service", where)) {
      if (auto d = r_.time_distribution(st["service"], "service")) spec.service = *d;
    }
    if (st["capacity"]) spec.capacity = static_cast<std::uint64_t>(r_.integer(st["capacity"], "capacity", 1, INT64_MAX).value_or(0));
    s.stations[name] = spec;
  }
}

std::optional<pipeline> parser::steps(const YAML::Node& n, const models::system_spec& s, std::string_view where) {
  pipeline p;
  if (n.IsSequence()) {
    bool ok = true;
    for (const auto& item : n) {
      if (auto st = step(item, s)) p.push_back(std::move(*st));
      else ok = false;
    }
    return ok ? std::optional<pipeline>(std::move(p)) : std::nullopt;
  }
  if (n.IsScalar() || n.IsMap()) {  // a single step
    if (auto st = step(n, s)) return pipeline{std::move(*st)};
    return std::nullopt;
  }
  r_.error(n, fmt::format("{} must be a list of steps", where));
  return std::nullopt;
}

std::optional<models::pipeline_step> parser::step(const YAML::Node& n, const models::system_spec& s) {
  if (n.IsScalar()) {
    const std::string name = n.Scalar();
    if (!s.stations.contains(name)) {
      std::vector<std::string> known;
      for (const auto& [k, v] : s.stations) known.push_back(k);
      const std::string hint = nearest(name, known);
      r_.error(n, hint.empty() ? fmt::format("unknown station '{}' (stations: {})", name, fmt::join(known, ", "))
                               : fmt::format("unknown station '{}' (did you mean '{}'?)", name, hint));
      return std::nullopt;
    }
    return models::pipeline_step{models::station_step{name}};
  }
  if (!r_.is_map(n, "a pipeline step")) return std::nullopt;
  if (n["parallel"]) {
    r_.check_keys(n, {"parallel"}, "a parallel step");
    if (!n["parallel"].IsSequence()) {
      r_.error(n["parallel"], "parallel must be a list of branches");
      return std::nullopt;
    }
    models::parallel_step par;
    for (const auto& branch : n["parallel"]) {
      auto b = steps(branch, s, "a parallel branch");
      if (!b) return std::nullopt;
      par.branches.push_back(std::move(*b));
    }
    return models::pipeline_step{std::move(par)};
  }
  if (n["publish"]) {
    r_.check_keys(n, {"publish", "cost"}, "a publish step");
    if (auto p = publish(n["publish"], n["cost"])) return models::pipeline_step{std::move(*p)};
    return std::nullopt;
  }
  if (n["produce"]) {
    r_.check_keys(n, {"produce", "cost"}, "a produce step");
    if (auto p = produce(n["produce"], n["cost"], s)) return models::pipeline_step{std::move(*p)};
    return std::nullopt;
  }
  if (n["delay"]) {
    r_.check_keys(n, {"delay"}, "a delay step");
    if (auto d = r_.time_distribution(n["delay"], "delay")) return models::pipeline_step{models::delay_step{*d}};
    return std::nullopt;
  }
  r_.error(n, "a pipeline step is a station name, {parallel: [...]}, {publish: {...}, cost: TIME}, "
              "{produce: {...}, cost: TIME} or {delay: TIME}");
  return std::nullopt;
}

std::optional<models::publish_step> parser::publish(const YAML::Node& n, const YAML::Node& cost) {
  if (!r_.is_map(n, "publish")) return std::nullopt;
  r_.check_keys(n, {"exchange", "routing_key", "routing_keys", "headers", "tag", "bytes", "priority", "ttl", "persistent"},
                "publish");
  models::publish_step p;
  if (n["exchange"]) p.exchange = r_.text(n["exchange"], "exchange").value_or("");
  if (n["routing_key"]) p.routing_key = r_.text(n["routing_key"], "routing_key").value_or("");
  if (const YAML::Node keys = n["routing_keys"]) {
    if (!keys.IsSequence() || keys.size() == 0) r_.error(keys, "routing_keys must be a non-empty list of keys");
    else for (const auto& k : keys) p.routing_keys.push_back(r_.text(k, "a routing key").value_or(""));
  }
  if (const YAML::Node h = n["headers"]; h && r_.is_map(h, "headers")) {
    for (const auto& kv : h) p.headers.emplace_back(kv.first.Scalar(), kv.second.Scalar());
  }
  if (n["tag"]) {
    p.tag = r_.text(n["tag"], "tag").value_or("");
    if (p.tag.empty() || p.tag.find('.') != std::string::npos) r_.error(n["tag"], "tag must be a non-empty word without dots");
  }
  if (n["bytes"]) p.message_bytes = static_cast<std::uint32_t>(r_.integer(n["bytes"], "bytes", 0, 128 << 20).value_or(100));
  if (n["priority"]) p.priority = static_cast<std::uint8_t>(r_.integer(n["priority"], "priority", 0, 255).value_or(0));
  if (n["ttl"]) {
    if (auto d = r_.duration(n["ttl"], "ttl")) p.expiration_ms = d->ns() / 1'000'000;
  }
  if (n["persistent"]) p.persistent = r_.boolean(n["persistent"], "persistent").value_or(false);
  if (cost) p.cost = r_.duration(cost, "cost").value_or(p.cost);
  return p;
}

std::optional<models::produce_step> parser::produce(const YAML::Node& n, const YAML::Node& cost,
                                                    const models::system_spec& s) {
  if (!r_.is_map(n, "produce")) return std::nullopt;
  r_.check_keys(n, {"topic", "keys", "keyed", "acks", "bytes"}, "produce");
  models::produce_step p;
  if (!r_.require(n, "topic", "produce")) return std::nullopt;
  p.topic = r_.text(n["topic"], "topic").value_or("");
  const bool known = std::any_of(s.kafka.topics.begin(), s.kafka.topics.end(), [&](const auto& t) { return t.name == p.topic; });
  if (!known) {
    std::vector<std::string> names;
    for (const auto& t : s.kafka.topics) names.push_back(t.name);
    const std::string hint = nearest(p.topic, names);
    r_.error(n["topic"], hint.empty() ? fmt::format("unknown topic '{}' (declare it under kafka.topics)", p.topic)
                                      : fmt::format("unknown topic '{}' (did you mean '{}'?)", p.topic, hint));
  }
  if (n["keys"]) p.keys = static_cast<int>(r_.integer(n["keys"], "keys", 0, 1'000'000).value_or(0));
  if (n["keyed"]) p.keyed = r_.boolean(n["keyed"], "keyed").value_or(true);
  if (n["acks"]) {
    const std::string a = n["acks"].IsScalar() ? n["acks"].Scalar() : "";
    if (a == "0") p.acks = 0;
    else if (a == "1") p.acks = 1;
    else if (a == "all" || a == "-1") p.acks = -1;
    else r_.error(n["acks"], fmt::format("acks must be 0, 1 or all, got '{}'", a));
  }
  if (n["bytes"]) p.record_bytes = static_cast<std::uint32_t>(r_.integer(n["bytes"], "bytes", 0, 128 << 20).value_or(100));
  if (cost) p.cost = r_.duration(cost, "cost").value_or(p.cost);
  return p;
}

void parser::kafka(const YAML::Node& n, models::system_spec& s) {
  if (!r_.is_map(n, "kafka")) return;
  r_.check_keys(n, {"brokers", "topics", "groups", "replication_interval", "replica_lag_time_max"}, "kafka");
  auto& k = s.kafka;
  k.brokers = n["brokers"] ? static_cast<std::int32_t>(r_.integer(n["brokers"], "brokers", 1, 64).value_or(1)) : 1;
  if (n["replication_interval"]) k.replication_interval = r_.duration(n["replication_interval"], "replication_interval").value_or(k.replication_interval);
  if (k.replication_interval.ns() == 0) r_.error(n["replication_interval"], "replication_interval must be positive");
  if (n["replica_lag_time_max"]) k.replica_lag_time_max = r_.duration(n["replica_lag_time_max"], "replica_lag_time_max").value_or(k.replica_lag_time_max);
  if (const YAML::Node topics = n["topics"]; topics && r_.is_map(topics, "topics")) {
    for (const auto& kv : topics) {
      const std::string where = fmt::format("topic '{}'", kv.first.Scalar());
      models::kafka_topic_spec t;
      t.name = kv.first.Scalar();
      const YAML::Node tn = kv.second;
      if (!tn.IsNull() && r_.is_map(tn, where)) {
        r_.check_keys(tn, {"partitions", "replication_factor", "min_insync_replicas", "unclean_leader_election"}, where);
        if (tn["partitions"]) t.partitions = static_cast<std::int32_t>(r_.integer(tn["partitions"], "partitions", 1, 10'000).value_or(1));
        if (tn["replication_factor"]) {
          t.replication_factor = static_cast<std::int32_t>(r_.integer(tn["replication_factor"], "replication_factor", 1, 64).value_or(1));
          if (t.replication_factor > k.brokers) {
            r_.error(tn["replication_factor"], fmt::format("replication_factor {} is more than the {} broker(s)", t.replication_factor, k.brokers));
          }
        }
        if (tn["min_insync_replicas"]) t.min_insync_replicas = static_cast<std::int32_t>(r_.integer(tn["min_insync_replicas"], "min_insync_replicas", 1, 64).value_or(1));
        if (tn["unclean_leader_election"]) t.unclean_leader_election = r_.boolean(tn["unclean_leader_election"], "unclean_leader_election").value_or(false);
      }
      k.topics.push_back(t);
    }
  }
  if (const YAML::Node groups = n["groups"]) {
    if (!groups.IsSequence()) {
      r_.error(groups, "groups must be a list of {group, topic, count, service, ...}");
      return;
    }
    for (const auto& g : groups) {
      r_.check_keys(g, {"group", "topic", "count", "service", "assignor", "max_poll_records", "poll_interval",
                        "session_timeout", "heartbeat_interval"},
                    "a Kafka consumer group");
      models::kafka_group_spec spec;
      if (r_.require(g, "group", "a Kafka consumer group")) spec.group = r_.text(g["group"], "group").value_or("");
      if (r_.require(g, "topic", "a Kafka consumer group")) spec.topic = r_.text(g["topic"], "topic").value_or("");
      if (g["count"]) spec.count = static_cast<int>(r_.integer(g["count"], "count", 0, 10'000).value_or(1));
      if (g["service"]) {
        if (auto d = r_.time_distribution(g["service"], "service")) spec.service = *d;
      }
      if (g["assignor"]) {
        spec.assignor = r_.text(g["assignor"], "assignor").value_or("range");
        if (spec.assignor != "range" && spec.assignor != "roundrobin" && spec.assignor != "cooperative-sticky") {
          r_.error(g["assignor"], fmt::format("assignor must be range, roundrobin or cooperative-sticky, got '{}'", spec.assignor));
        }
      }
      if (g["max_poll_records"]) spec.max_poll_records = static_cast<std::size_t>(r_.integer(g["max_poll_records"], "max_poll_records", 1, 1'000'000).value_or(500));
      for (auto [key, target] : {std::pair{"poll_interval", &spec.poll_interval}, std::pair{"session_timeout", &spec.session_timeout},
                                 std::pair{"heartbeat_interval", &spec.heartbeat_interval}}) {
        if (g[key]) *target = r_.duration(g[key], key).value_or(*target);
      }
      k.groups.push_back(std::move(spec));
    }
  }
}

void parser::queue(const std::string& name, const YAML::Node& n, models::system_spec& s) {
  const std::string where = fmt::format("queue '{}'", name);
  models::queue_spec q;
  q.name = name;
  if (!n.IsNull()) {
    if (!r_.is_map(n, where)) return;
    r_.check_keys(n, {"durable", "max_length", "max_length_bytes", "overflow", "message_ttl", "dead_letter_exchange",
                      "dead_letter_routing_key", "max_priority", "arguments"},
                  where);
    if (n["durable"]) q.durable = r_.boolean(n["durable"], "durable").value_or(true);
    auto put_int = [&](const char* key, const char* arg, std::int64_t max) {
      if (n[key]) {
        if (auto v = r_.integer(n[key], key, 0, max)) q.arguments.emplace_back(arg, *v);
      }
    };
    put_int("max_length", "x-max-length", INT64_MAX);
    put_int("max_length_bytes", "x-max-length-bytes", INT64_MAX);
    put_int("max_priority", "x-max-priority", 255);
    if (n["message_ttl"]) {
      if (auto d = r_.duration(n["message_ttl"], "message_ttl")) q.arguments.emplace_back("x-message-ttl", d->ns() / 1'000'000);
    }
    for (auto [key, arg] : {std::pair{"overflow", "x-overflow"}, std::pair{"dead_letter_exchange", "x-dead-letter-exchange"},
                            std::pair{"dead_letter_routing_key", "x-dead-letter-routing-key"}}) {
      if (n[key]) {
        if (auto v = r_.text(n[key], key)) q.arguments.emplace_back(arg, *v);
      }
    }
    if (n["overflow"] && n["overflow"].IsScalar()) {
      const auto& v = n["overflow"].Scalar();
      if (v != "drop-head" && v != "reject-publish" && v != "reject-publish-dlx") {
        r_.error(n["overflow"], fmt::format("overflow must be drop-head, reject-publish or reject-publish-dlx, got '{}'", v));
      }
    }
    if (n["arguments"] && r_.is_map(n["arguments"], "arguments")) {
      for (const auto& kv : n["arguments"]) {
        const std::string& v = kv.second.Scalar();
        std::int64_t i = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
        if (ec == std::errc() && end == v.data() + v.size()) q.arguments.emplace_back(kv.first.Scalar(), i);
        else q.arguments.emplace_back(kv.first.Scalar(), v);
      }
    }
  }
  s.broker.queues.push_back(std::move(q));
}

void parser::broker(const YAML::Node& n, models::system_spec& s) {
  if (!r_.is_map(n, "broker")) return;
  r_.check_keys(n, {"cluster", "exchanges", "queues", "bindings"}, "broker");
  if (const YAML::Node c = n["cluster"]) {
    r_.check_keys(c, {"nodes", "mode", "ha", "sync"}, "cluster");
    auto& cl = s.broker.cluster;
    if (c["nodes"]) cl.nodes = static_cast<std::uint32_t>(r_.integer(c["nodes"], "nodes", 1, 64).value_or(1));
    const std::string mode = c["mode"] ? r_.text(c["mode"], "mode").value_or("") : "normal";
    if (mode == "mirrored") {
      cl.mirroring = broker::amqp::ha_mode::all;
      if (c["ha"]) {
        const std::string ha = r_.text(c["ha"], "ha").value_or("all");
        if (ha.starts_with("exactly:")) {
          cl.mirroring = broker::amqp::ha_mode::exactly;
          cl.ha_replicas = static_cast<std::uint32_t>(std::atoi(ha.c_str() + 8));
        } else if (ha != "all") {
          r_.error(c["ha"], fmt::format("ha must be all or exactly:N, got '{}'", ha));
        }
      }
    } else if (mode != "normal") {
      r_.error(c["mode"], fmt::format("cluster mode must be normal or mirrored, got '{}'", mode));
    }
    if (c["sync"]) {
      const std::string sync = r_.text(c["sync"], "sync").value_or("automatic");
      if (sync != "automatic" && sync != "manual") r_.error(c["sync"], "sync must be automatic or manual");
      cl.ha_sync_automatic = sync == "automatic";
    }
  }
  if (const YAML::Node ex = n["exchanges"]; ex && r_.is_map(ex, "exchanges")) {
    for (const auto& kv : ex) {
      const std::string type = r_.text(kv.second, "exchange type").value_or("direct");
      if (type != "direct" && type != "fanout" && type != "topic" && type != "headers") {
        r_.error(kv.second, fmt::format("exchange type must be direct, fanout, topic or headers, got '{}'", type));
      }
      s.broker.exchanges.push_back({kv.first.Scalar(), type});
    }
  }
  if (const YAML::Node qs = n["queues"]; qs && r_.is_map(qs, "queues")) {
    for (const auto& kv : qs) queue(kv.first.Scalar(), kv.second, s);
  }
  if (const YAML::Node bs = n["bindings"]) {
    if (!bs.IsSequence()) {
      r_.error(bs, "bindings must be a list of {queue, exchange, key}");
      return;
    }
    for (const auto& b : bs) {
      r_.check_keys(b, {"queue", "exchange", "key", "arguments"}, "a binding");
      if (!b["queue"] || !b["exchange"]) {
        r_.error(b, "a binding needs 'queue' and 'exchange'");
        continue;
      }
      models::binding_spec spec{b["queue"].Scalar(), b["exchange"].Scalar(), b["key"] ? b["key"].Scalar() : "", {}};
      if (b["arguments"] && r_.is_map(b["arguments"], "arguments")) {
        for (const auto& kv : b["arguments"]) spec.arguments.emplace_back(kv.first.Scalar(), kv.second.Scalar());
      }
      s.broker.bindings.push_back(std::move(spec));
    }
  }
}

void parser::consumers(const YAML::Node& n, models::system_spec& s) {
  std::vector<YAML::Node> groups;
  if (n.IsSequence()) {
    for (const auto& g : n) groups.push_back(g);
  } else {
    groups.push_back(n);
  }
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const YAML::Node g = groups[i];
    if (!r_.is_map(g, "a consumer group")) continue;
    r_.check_keys(g, {"name", "queue", "count", "prefetch", "ack", "work", "service", "node"}, "a consumer group");
    models::consumer_group_spec c;
    c.name = g["name"] ? r_.text(g["name"], "name").value_or("") : (groups.size() == 1 ? "consumers" : fmt::format("group{}", i));
    if (r_.require(g, "queue", "a consumer group")) c.queue = r_.text(g["queue"], "queue").value_or("");
    if (g["count"]) c.count = static_cast<int>(r_.integer(g["count"], "count", 0, 100'000).value_or(1));
    if (g["prefetch"]) c.prefetch = static_cast<std::uint16_t>(r_.integer(g["prefetch"], "prefetch", 0, 65535).value_or(0));
    if (g["node"]) c.node = static_cast<std::uint32_t>(r_.integer(g["node"], "node", 0, 63).value_or(0));
    if (g["ack"]) {
      const std::string ack = r_.text(g["ack"], "ack").value_or("manual");
      if (ack != "auto" && ack != "manual") r_.error(g["ack"], fmt::format("ack must be auto or manual, got '{}'", ack));
      c.auto_ack = ack == "auto";
    }
    if (g["work"]) {
      if (auto p = steps(g["work"], s, "work")) c.work = std::move(*p);
    } else if (g["service"]) {
      if (auto d = r_.time_distribution(g["service"], "service")) c.work = {models::pipeline_step{models::delay_step{*d}}};
    } else {
      r_.error(g, "a consumer group needs 'work' (a pipeline) or 'service' (a time per message)");
    }
    const bool declared = std::any_of(s.broker.queues.begin(), s.broker.queues.end(),
                                      [&](const models::queue_spec& q) { return q.name == c.queue; });
    if (!declared && !c.queue.empty()) s.broker.queues.push_back({c.queue, true, {}});  // consumed queues exist
    s.consumers.push_back(std::move(c));
  }
}

void parser::faults(const YAML::Node& n, models::system_spec& s) {
  if (!n.IsSequence()) {
    r_.error(n, "faults must be a list such as [{at: 30s, crash: node-0}]");
    return;
  }
  for (const auto& f : n) {
    r_.check_keys(f, {"at", "crash", "restart", "stop", "resume", "kill", "index", "partition", "heal"}, "a fault");
    models::fault_spec spec;
    if (r_.require(f, "at", "a fault")) spec.at = r_.duration(f["at"], "at").value_or(spec.at);
    using models::fault_kind;
    const std::pair<const char*, fault_kind> kinds[] = {
        {"crash", fault_kind::crash_node}, {"restart", fault_kind::restart_node}, {"stop", fault_kind::stop_station},
        {"resume", fault_kind::resume_station}, {"kill", fault_kind::kill_consumer}, {"partition", fault_kind::partition},
        {"heal", fault_kind::heal}};
    bool found = false;
    for (const auto& [key, kind] : kinds) {
      if (!f[key]) continue;
      found = true;
      spec.kind = kind;
      const YAML::Node target = f[key];
      if (target.IsSequence() && target.size() == 2) {
        spec.target = target[0].Scalar();
        spec.other = target[1].Scalar();
      } else {
        spec.target = r_.text(target, key).value_or("");
      }
      if ((kind == fault_kind::stop_station || kind == fault_kind::resume_station) && !s.stations.contains(spec.target)) {
        r_.error(target, fmt::format("unknown station '{}'", spec.target));
      }
      if ((kind == fault_kind::partition || kind == fault_kind::heal) && spec.other.empty()) {
        r_.error(target, fmt::format("{} needs two nodes: [node-0, node-1]", key));
      }
    }
    if (!found) r_.error(f, "a fault needs one of crash, restart, stop, resume, kill, partition, heal");
    if (f["index"]) spec.index = static_cast<int>(r_.integer(f["index"], "index", 0, 100'000).value_or(0));
    s.faults.push_back(std::move(spec));
  }
}

void parser::expectations(const YAML::Node& n, scenario& sc) {
  if (!n.IsSequence()) {
    r_.error(n, "expect must be a list of {metric: ..., approx: ..., within: ...}");
    return;
  }
  std::vector<std::string> variants;
  for (const auto& v : sc.variants) variants.push_back(v.name);
  for (const auto& e : n) {
    r_.check_keys(e, {"metric", "approx", "within", "max", "min", "equals"}, "an expectation");
    if (!r_.require(e, "metric", "an expectation")) continue;
    expectation x;
    x.metric = r_.text(e["metric"], "metric").value_or("");
    x.line = e.Mark().line + 1;
    const std::string variant = x.metric.substr(0, x.metric.find('.'));
    if (std::find(variants.begin(), variants.end(), variant) == variants.end() && !variants.empty()) {
      const std::string hint = nearest(variant, variants);
      r_.error(e["metric"], hint.empty() ? fmt::format("metric '{}' names no variant (variants: {})", x.metric, fmt::join(variants, ", "))
                                         : fmt::format("metric '{}' names no variant (did you mean '{}'?)", x.metric, hint));
    }
    const std::pair<const char*, comparison> ops[] = {
        {"approx", comparison::approx}, {"max", comparison::at_most}, {"min", comparison::at_least}, {"equals", comparison::equals}};
    bool found = false;
    for (const auto& [key, op] : ops) {
      if (!e[key]) continue;
      found = true;
      x.op = op;
      x.value = r_.quantity(e[key], key).value_or(0);
      x.text = fmt::format("{} {} {}", x.metric, key, e[key].Scalar());
    }
    if (!found) r_.error(e, "an expectation needs one of approx, max, min, equals");
    if (x.op == comparison::approx) {
      if (!e["within"]) {
        r_.error(e, "approx needs 'within' (a percentage such as 3% or an absolute amount)");
      } else if (const std::string w = e["within"].Scalar(); !w.empty() && w.back() == '%') {
        x.tolerance = std::atof(w.c_str()) / 100.0;
        x.tolerance_relative = true;
      } else {
        x.tolerance = r_.quantity(e["within"], "within").value_or(0);
        x.tolerance_relative = false;
      }
      x.text += " within " + (e["within"] ? e["within"].Scalar() : std::string("?"));
    }
    sc.expect.push_back(std::move(x));
  }
}

// --set a.b.c=value: walk (and create) maps, index lists by number (consumers.0.prefetch),
// then replace the leaf with the parsed value.
void apply_override(YAML::Node root, const std::string& path, const std::string& value, diagnostics& d) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  if (parts.empty() || std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
    d.add(0, 0, fmt::format("--set {}={}: bad path", path, value));
    return;
  }
  YAML::Node current = root;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    YAML::Node next;
    if (current.IsSequence()) {
      std::size_t index = 0;
      auto [end, ec] = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), index);
      if (ec != std::errc() || end != parts[i].data() + parts[i].size() || index >= current.size()) {
        d.add(0, 0, fmt::format("--set {}: '{}' is not an index of the list (0..{})", path, parts[i], current.size() - 1));
        return;
      }
      next = current[index];
    } else if (current.IsMap() || !current.IsDefined() || current.IsNull()) {
      next = current[parts[i]];
    } else {
      d.add(0, 0, fmt::format("--set {}: '{}' is a value, not a mapping or list", path, parts[i - 1]));
      return;
    }
    if (last) {
      try {
        next = YAML::Load(value);
      } catch (const YAML::Exception& e) {
        d.add(0, 0, fmt::format("--set {}: cannot read value '{}': {}", path, value, e.msg));
      }
      return;
    }
    current.reset(next);
  }
}

}  // namespace

std::expected<scenario, diagnostics> parse_scenario(const std::string& yaml_text, const overrides& sets) {
  diagnostics d;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    d.add(e.mark.line + 1, e.mark.column + 1, "YAML syntax error: " + e.msg);
    return std::unexpected(d);
  }
  if (root.IsMap()) {
    for (const auto& [path, value] : sets) apply_override(root, path, value, d);
  }
  std::optional<scenario> sc;
  try {
    sc = parser(d).parse(root);
  } catch (const YAML::Exception& e) {
    // Defensive: yaml-cpp throws on some malformed shapes (e.g. a key that is itself a list).
    d.add(e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (!d.empty() || !sc) return std::unexpected(d);
  return std::move(*sc);
}

std::expected<scenario, diagnostics> load_scenario(const std::string& path, const overrides& sets) {
  std::ifstream in(path);
  if (!in) {
    diagnostics d;
    d.add(0, 0, "cannot open file");
    return std::unexpected(d);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), sets);
}

}  // namespace mqlab::workbench
