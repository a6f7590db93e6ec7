// YAML -> scenario. Each variant is the top-level system with the keys it redefines replaced;
// errors are collected with their place in the file (errors in shared keys are reported once).
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "models/kafka_side.h"
#include "workbench/plan.h"
#include "workbench/profile.h"
#include "workbench/scenario_parser.h"

namespace mqlab::workbench {
namespace detail {

using models::pipeline;

std::optional<scenario> parser::parse(const YAML::Node& root) {
  if (!r_.is_map(root, "a scenario file")) return std::nullopt;
  const std::vector<std::string> names = {"name", "title", "description", "lesson", "seed", "replications",
                                          "variants", "expect", "plan", MQLAB_SYSTEM_KEYS};
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
  if (root["plan"]) plan(root["plan"], sc);
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
  // Every sample of every series is held until the run ends.
  constexpr std::int64_t max_samples = 100'000;
  if (s.sample_interval.ns() > 0 && s.duration.ns() / s.sample_interval.ns() > max_samples) {
    r_.error(top["sample_interval"] ? top["sample_interval"] : top["duration"],
             fmt::format("duration / sample_interval is {} samples per series; at most {} are kept (lengthen sample_interval)",
                         s.duration.ns() / s.sample_interval.ns(), max_samples));
  }
  if (s.warmup >= s.duration) r_.error(top["warmup"] ? top["warmup"] : top["duration"], "warmup must be shorter than duration");
  const std::string profile = top["profile"] ? r_.text(top["profile"], "profile").value_or("default") : "default";
  if (auto costs = load_profile(profile)) s.costs = std::move(*costs);
  else r_.error(top["profile"] ? top["profile"] : top.base, costs.error());
  if (top["links"]) read_links(r_, top["links"], s.costs);
  if (top["clients"]) read_clients(r_, top["clients"], s.costs.clients);
  if (top["host"]) read_host(r_, top["host"], s.costs);
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
  if (top["jms"]) jms(top["jms"], s);
  if (top["zookeeper"]) zookeeper(top["zookeeper"], s);
  if (required("pipeline")) {
    if (auto p = steps(top["pipeline"], s, "pipeline")) s.request = std::move(*p);
  }
  if (top["faults"]) faults(top["faults"], s);
  check_nodes(top, s);
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
  if (n["send"]) {
    r_.check_keys(n, {"send", "cost"}, "a send step");
    if (auto p = send(n["send"], n["cost"])) return models::pipeline_step{std::move(*p)};
    return std::nullopt;
  }
  if (n["delay"]) {
    r_.check_keys(n, {"delay"}, "a delay step");
    if (auto d = r_.time_distribution(n["delay"], "delay")) return models::pipeline_step{models::delay_step{*d}};
    return std::nullopt;
  }
  r_.error(n, "a pipeline step is a station name, {parallel: [...]}, {publish: {...}, cost: TIME}, "
              "{produce: {...}, cost: TIME}, {send: {...}, cost: TIME} or {delay: TIME}");
  return std::nullopt;
}

std::optional<models::publish_step> parser::publish(const YAML::Node& n, const YAML::Node& cost) {
  if (!r_.is_map(n, "publish")) return std::nullopt;
  r_.check_keys(n, {"exchange", "routing_key", "routing_keys", "headers", "tag", "bytes", "priority", "ttl", "persistent", "keys",
                    "confirm", "confirm_timeout", "retry"},
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
  if (n["keys"]) p.keys = static_cast<int>(r_.integer(n["keys"], "keys", 0, 1'000'000).value_or(0));
  if (n["confirm"]) p.confirm = r_.boolean(n["confirm"], "confirm").value_or(false);
  if (const YAML::Node t = n["confirm_timeout"]) {
    p.confirm_timeout = r_.duration(t, "confirm_timeout");
    if (p.confirm_timeout && p.confirm_timeout->ns() <= 0) r_.error(t, "confirm_timeout must be longer than 0");
  }
  if (n["retry"]) p.retry = retry(n["retry"]);
  for (const char* key : {"confirm_timeout", "retry"}) {
    if (n[key] && !p.confirm) r_.error(n[key], fmt::format("{} needs confirm: true: only a confirm tells the publisher a message failed", key));
  }
  if (cost) p.cost = r_.duration(cost, "cost").value_or(p.cost);
  return p;
}

std::optional<models::retry_policy> parser::retry(const YAML::Node& n) {
  if (!r_.is_map(n, "retry")) return std::nullopt;
  r_.check_keys(n, {"max_attempts", "initial_interval", "multiplier", "max_interval"}, "retry");
  models::retry_policy r;
  if (n["max_attempts"]) r.max_attempts = static_cast<int>(r_.integer(n["max_attempts"], "max_attempts", 1, 1000).value_or(r.max_attempts));
  for (auto [key, field] : {std::pair{"initial_interval", &models::retry_policy::initial_interval},
                            std::pair{"max_interval", &models::retry_policy::max_interval}}) {
    if (!n[key]) continue;
    r.*field = r_.duration(n[key], key).value_or(r.*field);
    if ((r.*field).ns() <= 0) r_.error(n[key], fmt::format("{} must be longer than 0", key));
  }
  if (n["multiplier"]) {
    r.multiplier = r_.number(n["multiplier"], "multiplier").value_or(r.multiplier);
    if (!(r.multiplier >= 1.0 && r.multiplier <= 100.0)) r_.error(n["multiplier"], "multiplier must be between 1 and 100");
  }
  return r;
}

void parser::faults(const YAML::Node& n, models::system_spec& s) {
  if (!n.IsSequence()) {
    r_.error(n, "faults must be a list such as [{at: 30s, crash: node-0}]");
    return;
  }
  for (const auto& f : n) {
    r_.check_keys(f, {"at", "crash", "restart", "stop", "resume", "kill", "index", "partition", "heal", "slow", "factor",
                      "pause", "for", "degrade", "latency", "bandwidth", "disconnect"},
                  "a fault");
    models::fault_spec spec;
    if (r_.require(f, "at", "a fault")) spec.at = r_.duration(f["at"], "at").value_or(spec.at);
    using models::fault_kind;
    const std::pair<const char*, fault_kind> kinds[] = {
        {"crash", fault_kind::crash_node}, {"restart", fault_kind::restart_node}, {"stop", fault_kind::stop_station},
        {"resume", fault_kind::resume_station}, {"kill", fault_kind::kill_consumer}, {"partition", fault_kind::partition},
        {"heal", fault_kind::heal}, {"slow", fault_kind::resources}, {"pause", fault_kind::resources},
        {"degrade", fault_kind::resources}, {"disconnect", fault_kind::disconnect}};
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
    if (!found) r_.error(f, "a fault needs one of crash, restart, stop, resume, kill, partition, heal, slow, pause, degrade, disconnect");
    else check_fault_target(f, spec, s);
    if (spec.kind == fault_kind::resources) resource_fault(f, spec.resources);
    if (spec.kind == fault_kind::disconnect && r_.require(f, "for", "a disconnect fault")) {
      spec.length = r_.duration(f["for"], "for").value_or(spec.length);
    }
    if (f["index"]) spec.index = static_cast<int>(r_.integer(f["index"], "index", 0, 100'000).value_or(0));
    s.faults.push_back(std::move(spec));
  }
}

void parser::check_nodes(const layered& top, const models::system_spec& s) {
  // Places are checked against the cluster here, so that a run never meets a node that is not there.
  const std::uint32_t nodes = std::max(1u, s.broker.cluster.nodes);
  const auto check = [&](std::uint32_t node, const YAML::Node& at, const std::string& what) {
    if (node >= nodes) r_.error(at, fmt::format("{} is on node {}, but the cluster has {} node(s) (0..{})", what, node, nodes, nodes - 1));
  };
  const YAML::Node broker_node = top["broker"] ? top["broker"] : top.base;
  for (const auto& q : s.broker.queues) check(q.node, broker_node, fmt::format("queue '{}'", q.name));
  for (const auto& c : s.consumers) check(c.node, top["consumers"] ? top["consumers"] : top.base, fmt::format("consumer group '{}'", c.name));
  check(s.producer_node, top["producer"] ? top["producer"] : top.base, "the producer");
  const std::uint32_t brokers = std::max({nodes, static_cast<std::uint32_t>(std::max(s.kafka.brokers, 0))});
  for (const auto& [n, resources] : s.costs.per_node) {
    if (n >= brokers) r_.error(broker_node, fmt::format("nodes: there is no node {} (the cluster has {})", n, brokers));
  }
}

void parser::check_fault_target(const YAML::Node& f, const models::fault_spec& spec, const models::system_spec& s) {
  using models::fault_kind;
  const std::uint32_t nodes = std::max(1u, s.broker.cluster.nodes);
  // A node of the AMQP cluster or a Kafka broker, as the run will look it up.
  const auto names_a_node = [&](const std::string& name, bool kafka_too) {
    if (kafka_too && models::broker_index(name, s.kafka.brokers) >= 0) return true;
    const auto n = models::amqp_node_named(name);
    return n && *n < nodes;
  };
  const auto nodes_there = [&] {
    std::string there = fmt::format("node-0..node-{}", nodes - 1);
    if (s.kafka.brokers > 0) there += fmt::format(", broker-0..broker-{}", s.kafka.brokers - 1);
    return there;
  };
  const char* key = nullptr;
  for (const char* k : {"crash", "restart", "partition", "heal", "slow", "pause", "degrade", "kill", "disconnect"}) {
    if (f[k]) key = k;
  }
  if (key == nullptr) return;
  const bool zk = std::any_of(s.zookeeper.groups.begin(), s.zookeeper.groups.end(), [&](const auto& g) { return g.name == spec.target; });
  if (spec.kind == fault_kind::disconnect) {
    if (!zk) r_.error(f[key], fmt::format("disconnect: no zookeeper group '{}'", spec.target));
    return;
  }
  if (spec.kind == fault_kind::kill_consumer) {
    const bool amqp = std::any_of(s.consumers.begin(), s.consumers.end(), [&](const auto& c) { return c.name == spec.target; });
    const bool kafka = std::any_of(s.kafka.groups.begin(), s.kafka.groups.end(), [&](const auto& g) { return g.group == spec.target; });
    if (!amqp && !kafka && !zk) r_.error(f[key], fmt::format("kill: no consumer or zookeeper group '{}'", spec.target));
    return;
  }
  const bool kafka_too = spec.kind != fault_kind::partition && spec.kind != fault_kind::heal;
  for (const std::string* name : {&spec.target, &spec.other}) {
    if (name->empty() && name == &spec.other) continue;
    if (!names_a_node(*name, kafka_too)) {
      r_.error(f[key], fmt::format("{}: no node '{}' (there are {})", key, *name, nodes_there()));
    }
  }
}

void parser::resource_fault(const YAML::Node& f, models::resource_fault& out) {
  using models::resource_fault_kind;
  if (f["slow"]) {
    out.kind = resource_fault_kind::slow;
    if (r_.require(f, "factor", "a slow fault")) {
      out.factor = r_.number(f["factor"], "factor").value_or(1.0);
      if (!(out.factor > 0 && out.factor <= 1e6)) r_.error(f["factor"], "factor must be above 0 and at most 1e6 (2 = twice as slow)");
    }
  } else if (f["pause"]) {
    out.kind = resource_fault_kind::pause;
    if (r_.require(f, "for", "a pause fault")) out.length = r_.duration(f["for"], "for").value_or(out.length);
  } else {
    out.kind = resource_fault_kind::degrade;
    if (!f["latency"] && !f["bandwidth"]) r_.error(f, "a degrade fault needs latency, bandwidth or both");
    if (f["latency"]) out.latency = r_.time_distribution(f["latency"], "latency");
    if (f["bandwidth"]) out.bandwidth = read_bandwidth(r_, f["bandwidth"], "bandwidth");
  }
}

void parser::plan(const YAML::Node& n, scenario& sc) {
  if (!r_.is_map(n, "plan")) return;
  r_.check_keys(n, {"minimize", "max_rate", "slo"}, "plan");
  plan_question q;
  plan_request probe_request;  // checks the range as mqlab plan will read it
  for (const auto& [key, maximize] : {std::pair{"minimize", false}, std::pair{"max_rate", true}}) {
    if (!n[key]) continue;
    (maximize ? q.max_rate : q.minimize) = r_.text(n[key], key).value_or("");
    if (auto ok = parse_range(maximize ? "max_rate" : "minimize", maximize ? q.max_rate : q.minimize, maximize, probe_request); !ok) {
      r_.error(n[key], ok.error());
    }
  }
  if (q.minimize.empty() == q.max_rate.empty()) r_.error(n, "plan needs one of minimize and max_rate");
  if (!r_.require(n, "slo", "plan")) return;
  if (!n["slo"].IsSequence() || n["slo"].size() == 0) {
    r_.error(n["slo"], "plan slo must be a list of objectives such as 'main.e2e.p99<=110ms'");
    return;
  }
  for (const auto& item : n["slo"]) {
    const auto text = r_.text(item, "slo");
    if (!text) continue;
    if (auto objective = parse_slo(*text); !objective) r_.error(item, objective.error());
    q.slos.push_back(*text);
  }
  sc.plan = std::move(q);
}

void parser::expectations(const YAML::Node& n, scenario& sc) {
  if (!n.IsSequence()) {
    r_.error(n, "expect must be a list of {metric: ..., approx: ..., within: ...}");
    return;
  }
  std::vector<std::string> variants;
  for (const auto& v : sc.variants) variants.push_back(v.name);
  for (const auto& e : n) {
    r_.check_keys(e, {"metric", "approx", "within", "max", "min", "equals", "sim_only"}, "an expectation");
    if (!r_.require(e, "metric", "an expectation")) continue;
    expectation x;
    if (e["sim_only"]) x.sim_only = r_.boolean(e["sim_only"], "sim_only").value_or(false);
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

}  // namespace detail

namespace {

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
    sc = detail::parser(d).parse(root);
  } catch (const YAML::Exception& e) {
    // Defensive: yaml-cpp throws on some malformed shapes (e.g. a key that is itself a list).
    d.add(e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (!d.empty() || !sc) return std::unexpected(d);
  return std::move(*sc);
}

std::expected<void, std::string> keep_variants(scenario& sc, const std::vector<std::string>& names) {
  std::vector<std::string> have;
  for (const auto& v : sc.variants) have.push_back(v.name);
  for (const auto& n : names) {
    if (std::find(have.begin(), have.end(), n) == have.end()) {
      return std::unexpected(fmt::format("no variant '{}' (the scenario has: {})", n, fmt::join(have, ", ")));
    }
  }
  const auto kept = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  std::erase_if(sc.variants, [&](const variant& v) { return !kept(v.name); });
  std::erase_if(sc.expect, [&](const expectation& e) { return !kept(e.metric.substr(0, e.metric.find('.'))); });
  return {};
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
