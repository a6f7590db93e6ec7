// The broker-facing parts of a scenario: AMQP queues, exchanges and bindings, consumer
// groups, Kafka topics and groups, and the publish/produce steps that feed them.
#include <set>

#include <fmt/format.h>

#include "workbench/number.h"
#include "workbench/profile.h"
#include "workbench/scenario_parser.h"

#include "broker/kafka/assignor.h"

namespace mqlab::workbench::detail {

std::optional<models::produce_step> parser::produce(const YAML::Node& n, const YAML::Node& cost,
                                                    const models::system_spec& s) {
  if (!r_.is_map(n, "produce")) return std::nullopt;
  r_.check_keys(n, {"topic", "keys", "keyed", "acks", "bytes", "batch_size", "linger"}, "produce");
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
  if (n["batch_size"]) p.batch_size = static_cast<std::uint32_t>(r_.integer(n["batch_size"], "batch_size", 1, 64 << 20).value_or(16384));
  if (n["linger"]) p.linger = r_.duration(n["linger"], "linger").value_or(p.linger);
  if (cost) p.cost = r_.duration(cost, "cost").value_or(p.cost);
  return p;
}

void parser::kafka(const YAML::Node& n, models::system_spec& s) {
  if (!r_.is_map(n, "kafka")) return;
  r_.check_keys(n, {"brokers", "topics", "groups", "replication_interval", "replica_lag_time_max", "replica_fetch_wait_max", "node",
                    "nodes", "process_cores"},
                "kafka");
  if (n["node"]) read_node_resources(r_, n["node"], s.costs.node);
  if (n["nodes"]) read_nodes(r_, n["nodes"], s.costs);
  if (n["replica_fetch_wait_max"]) s.kafka.replica_fetch_wait_max = r_.duration(n["replica_fetch_wait_max"], "replica_fetch_wait_max").value_or(s.kafka.replica_fetch_wait_max);
  auto& k = s.kafka;
  k.brokers = n["brokers"] ? static_cast<std::int32_t>(r_.integer(n["brokers"], "brokers", 1, 64).value_or(1)) : 1;
  if (n["replication_interval"]) k.replication_interval = r_.duration(n["replication_interval"], "replication_interval").value_or(k.replication_interval);
  if (k.replication_interval.ns() == 0) r_.error(n["replication_interval"], "replication_interval must be positive");
  if (n["process_cores"]) k.process_cores = static_cast<int>(r_.integer(n["process_cores"], "process_cores", 0, 1024).value_or(0));
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
                        "session_timeout", "heartbeat_interval", "commit", "threads"},
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
        if (!broker::kafka::assignor_named(spec.assignor)) {
          r_.error(g["assignor"], fmt::format("assignor must be range, roundrobin or cooperative-sticky, got '{}'", spec.assignor));
        }
      }
      if (g["commit"]) commit_mode(g["commit"], spec);
      if (g["threads"]) spec.threads = static_cast<int>(r_.integer(g["threads"], "threads", 1, 1'000).value_or(1));
      if (g["max_poll_records"]) spec.max_poll_records = static_cast<std::size_t>(r_.integer(g["max_poll_records"], "max_poll_records", 1, 1'000'000).value_or(500));
      for (auto [key, target] : {std::pair{"poll_interval", &spec.poll_interval}, std::pair{"session_timeout", &spec.session_timeout},
                                 std::pair{"heartbeat_interval", &spec.heartbeat_interval}}) {
        if (g[key]) *target = r_.duration(g[key], key).value_or(*target);
      }
      // The coordinator refuses a session timeout outside group.min/max.session.timeout.ms.
      if (g["session_timeout"] && (spec.session_timeout < sim::duration::seconds(6) || spec.session_timeout > sim::duration::seconds(1800))) {
        r_.error(g["session_timeout"], "session_timeout must be within 6s..1800s (the broker's group.min/max.session.timeout.ms)");
      }
      if ((g["session_timeout"] || g["heartbeat_interval"]) && spec.heartbeat_interval >= spec.session_timeout) {
        r_.error(g["heartbeat_interval"] ? g["heartbeat_interval"] : g["session_timeout"],
                 "heartbeat_interval must be shorter than session_timeout (as the Kafka consumer requires)");
      }
      k.groups.push_back(std::move(spec));
    }
  }
}

void parser::commit_mode(const YAML::Node& n, models::kafka_group_spec& spec) {
  const std::string text = r_.text(n, "commit").value_or("");
  if (text == "poll") spec.commit = models::commit_mode::poll;
  else if (text == "record") spec.commit = models::commit_mode::record;
  else if (text == "before-processing") spec.commit = models::commit_mode::before_processing;
  else if (text == "auto" || text.starts_with("auto:")) {
    spec.commit = models::commit_mode::auto_interval;
    if (text.size() > 5) {
      auto interval = sim::parse_duration(text.substr(5));
      if (!interval || interval->ns() <= 0) r_.error(n, fmt::format("commit: '{}' is not a positive interval", text.substr(5)));
      else spec.auto_commit_interval = *interval;
    }
  } else {
    r_.error(n, fmt::format("commit must be poll, auto, auto:INTERVAL, record or before-processing, got '{}'", text));
  }
}

void parser::queue(const std::string& name, const YAML::Node& n, models::system_spec& s) {
  const std::string where = fmt::format("queue '{}'", name);
  models::queue_spec q;
  q.name = name;
  if (!n.IsNull()) {
    if (!r_.is_map(n, where)) return;
    r_.check_keys(n, {"durable", "node", "max_length", "max_length_bytes", "overflow", "message_ttl", "dead_letter_exchange",
                      "dead_letter_routing_key", "max_priority", "single_active_consumer", "arguments"},
                  where);
    if (n["durable"]) q.durable = r_.boolean(n["durable"], "durable").value_or(true);
    if (n["node"]) q.node = static_cast<std::uint32_t>(r_.integer(n["node"], "node", 0, 63).value_or(0));
    auto put_int = [&](const char* key, const char* arg, std::int64_t max) {
      if (n[key]) {
        if (auto v = r_.integer(n[key], key, 0, max)) q.arguments.emplace_back(arg, *v);
      }
    };
    put_int("max_length", "x-max-length", INT64_MAX);
    put_int("max_length_bytes", "x-max-length-bytes", INT64_MAX);
    put_int("max_priority", "x-max-priority", 255);
    if (n["single_active_consumer"]) {
      if (auto on = r_.boolean(n["single_active_consumer"], "single_active_consumer")) {
        q.arguments.emplace_back("x-single-active-consumer", *on);
      }
    }
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
  r_.check_keys(n, {"cluster", "exchanges", "queues", "bindings", "node", "nodes"}, "broker");
  if (n["node"]) read_node_resources(r_, n["node"], s.costs.node);
  if (n["nodes"]) read_nodes(r_, n["nodes"], s.costs);
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
    std::set<std::string> declared;
    for (const auto& q : s.broker.queues) declared.insert(q.name);
    for (const auto& b : bs) {
      r_.check_keys(b, {"queue", "exchange", "key", "arguments", "count"}, "a binding");
      if (!b["queue"] || !b["exchange"]) {
        r_.error(b, "a binding needs 'queue' and 'exchange'");
        continue;
      }
      // count: N makes N bindings, "{i}" in the queue, key and argument values standing for 0..N-1.
      constexpr std::int64_t max_count = 100'000;
      const auto count = b["count"] ? r_.integer(b["count"], "count", 1, max_count).value_or(1) : 1;
      const auto nth = [](std::string text, std::int64_t i) {
        for (auto at = text.find("{i}"); at != std::string::npos; at = text.find("{i}", at)) text.replace(at, 3, std::to_string(i));
        return text;
      };
      for (std::int64_t i = 0; i < count; ++i) {
        models::binding_spec spec{nth(b["queue"].Scalar(), i), b["exchange"].Scalar(), b["key"] ? nth(b["key"].Scalar(), i) : "", {}};
        if (b["arguments"] && r_.is_map(b["arguments"], "arguments")) {
          for (const auto& kv : b["arguments"]) spec.arguments.emplace_back(kv.first.Scalar(), nth(kv.second.Scalar(), i));
        }
        if (declared.insert(spec.queue).second) s.broker.queues.push_back({.name = spec.queue});  // bound queues exist
        s.broker.bindings.push_back(std::move(spec));
      }
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
    r_.check_keys(g, {"name", "queue", "count", "prefetch", "ack", "work", "service", "node", "fail", "poison",
                      "default_requeue_rejected", "concurrency", "scaling", "pull", "poll_interval", "ack_every"},
                  "a consumer group");
    models::consumer_group_spec c;
    c.name = g["name"] ? r_.text(g["name"], "name").value_or("") : (groups.size() == 1 ? "consumers" : fmt::format("group{}", i));
    if (r_.require(g, "queue", "a consumer group")) c.queue = r_.text(g["queue"], "queue").value_or("");
    if (g["count"]) c.count = static_cast<int>(r_.integer(g["count"], "count", 0, 100'000).value_or(1));
    if (g["concurrency"]) concurrency(g, c);
    if (g["scaling"] && !c.elastic) r_.error(g["scaling"], "scaling needs concurrency: MIN-MAX (an elastic group)");
    if (g["pull"]) c.pull = r_.boolean(g["pull"], "pull").value_or(false);
    if (const YAML::Node p = g["poll_interval"]) {
      c.poll_interval = r_.duration(p, "poll_interval").value_or(c.poll_interval);
      if (!c.pull) r_.error(p, "poll_interval needs pull: true");
      else if (c.poll_interval.ns() <= 0) r_.error(p, "poll_interval must be longer than 0");
    }
    if (c.pull && c.elastic) r_.error(g["pull"], "a pulling group has a fixed count: concurrency MIN-MAX is for subscribed consumers");
    if (c.pull && g["prefetch"]) r_.error(g["prefetch"], "a pulling group takes one message per basic.get: prefetch does not apply");
    if (g["prefetch"]) c.prefetch = static_cast<std::uint16_t>(r_.integer(g["prefetch"], "prefetch", 0, 65535).value_or(0));
    if (g["node"]) c.node = static_cast<std::uint32_t>(r_.integer(g["node"], "node", 0, 63).value_or(0));
    if (g["ack"]) {
      const std::string ack = r_.text(g["ack"], "ack").value_or("manual");
      if (ack != "auto" && ack != "manual") r_.error(g["ack"], fmt::format("ack must be auto or manual, got '{}'", ack));
      c.auto_ack = ack == "auto";
    }
    if (g["ack_every"]) ack_every(g, c);
    if (g["work"]) {
      if (auto p = steps(g["work"], s, "work")) c.work = std::move(*p);
    } else if (g["service"]) {
      if (auto d = r_.time_distribution(g["service"], "service")) c.work = {models::pipeline_step{models::delay_step{*d}}};
    } else {
      r_.error(g, "a consumer group needs 'work' (a pipeline) or 'service' (a time per message)");
    }
    c.failure = failure(g);
    if (g["default_requeue_rejected"]) {
      c.requeue_rejected = r_.boolean(g["default_requeue_rejected"], "default_requeue_rejected").value_or(true);
    }
    const bool declared = std::any_of(s.broker.queues.begin(), s.broker.queues.end(),
                                      [&](const models::queue_spec& q) { return q.name == c.queue; });
    if (!declared && !c.queue.empty()) s.broker.queues.push_back({.name = c.queue});  // consumed queues exist
    s.consumers.push_back(std::move(c));
  }
}

void parser::ack_every(const YAML::Node& g, models::consumer_group_spec& c) {
  // PerfTest's --multi-ack-every. The consumer must be able to hold the messages it has not
  // acked yet, or it stops short of its ack; an elastic container stops consumers that would
  // take theirs back to the queue.
  const YAML::Node n = g["ack_every"];
  c.ack_every = static_cast<std::uint16_t>(r_.integer(n, "ack_every", 1, 65535).value_or(1));
  if (c.auto_ack) {
    r_.error(n, "ack_every needs ack: manual (an auto-ack consumer sends no acks)");
  } else if (c.prefetch != 0 && c.ack_every > c.prefetch) {
    r_.error(n, fmt::format("ack_every {} is more than prefetch {}: the broker stops delivering at {} "
                            "unacknowledged messages, so the consumer would never reach its ack",
                            c.ack_every, c.prefetch, c.prefetch));
  } else if (c.elastic) {
    r_.error(n, "ack_every needs a fixed count: an elastic group stops consumers, which would requeue what they had "
                "not acked");
  }
}

void parser::concurrency(const YAML::Node& g, models::consumer_group_spec& c) {
  // Spring's listener concurrency: "N" (fixed) or "MIN-MAX" (elastic).
  const YAML::Node n = g["concurrency"];
  if (g["count"]) r_.error(n, "a consumer group gives count or concurrency, not both");
  const std::string text = r_.text(n, "concurrency").value_or("");
  const auto dash = text.find('-');
  const auto low = parse_number<int>(std::string_view(text).substr(0, dash));
  const auto high = dash == std::string::npos ? low : parse_number<int>(std::string_view(text).substr(dash + 1));
  if (!low || !high || *low < 1 || *low > *high || *high > 100'000) {
    r_.error(n, fmt::format("concurrency must be N or MIN-MAX with 1 <= MIN <= MAX, got '{}'", text));
    return;
  }
  c.count = *high;
  if (*low == *high) return;
  models::elastic_spec e{.min = *low};
  if (const YAML::Node sc = g["scaling"]; sc && r_.is_map(sc, "scaling")) {
    r_.check_keys(sc, {"consecutive_active_trigger", "consecutive_idle_trigger", "start_consumer_min_interval",
                       "stop_consumer_min_interval", "receive_timeout"},
                  "scaling");
    for (auto [key, field] : {std::pair{"consecutive_active_trigger", &models::elastic_spec::consecutive_active_trigger},
                              std::pair{"consecutive_idle_trigger", &models::elastic_spec::consecutive_idle_trigger}}) {
      if (sc[key]) e.*field = static_cast<int>(r_.integer(sc[key], key, 1, 1'000'000).value_or(e.*field));
    }
    for (auto [key, field] : {std::pair{"start_consumer_min_interval", &models::elastic_spec::start_consumer_min_interval},
                              std::pair{"stop_consumer_min_interval", &models::elastic_spec::stop_consumer_min_interval},
                              std::pair{"receive_timeout", &models::elastic_spec::receive_timeout}}) {
      if (sc[key]) e.*field = r_.duration(sc[key], key).value_or(e.*field);
    }
    if (e.receive_timeout.ns() <= 0) r_.error(sc["receive_timeout"], "receive_timeout must be longer than 0");
  }
  c.elastic = e;
}

void parser::zookeeper(const YAML::Node& n, models::system_spec& s) {
  if (!r_.is_map(n, "zookeeper")) return;
  r_.check_keys(n, {"session_timeout", "groups"}, "zookeeper");
  if (n["session_timeout"]) {
    s.zookeeper.session_timeout = r_.duration(n["session_timeout"], "session_timeout").value_or(s.zookeeper.session_timeout);
    if (s.zookeeper.session_timeout < sim::duration::milliseconds(30)) r_.error(n["session_timeout"], "session_timeout must be at least 30ms");
  }
  const YAML::Node list = n["groups"];
  if (!list || !list.IsSequence()) {
    r_.error(list ? list : n, "zookeeper.groups must be a list of {name, count, recipe: leader | lock, ...}");
    return;
  }
  for (const auto& g : list) {
    const std::string where = "a zookeeper group";
    r_.check_keys(g, {"name", "count", "recipe", "hold", "think", "on_disconnect"}, where);
    models::zk_group_spec z;
    if (r_.require(g, "name", where)) z.name = r_.text(g["name"], "name").value_or("");
    if (z.name.empty() || z.name.find('/') != std::string::npos) r_.error(g["name"] ? g["name"] : g, "a zookeeper group needs a name without '/'");
    if (g["count"]) z.count = static_cast<int>(r_.integer(g["count"], "count", 1, 1000).value_or(z.count));
    if (g["recipe"]) {
      const std::string r = r_.text(g["recipe"], "recipe").value_or("");
      if (r == "lock") z.recipe = models::zk_group_spec::recipe_kind::lock;
      else if (r != "leader") r_.error(g["recipe"], fmt::format("recipe must be leader or lock, got '{}'", r));
    }
    for (auto [key, field] : {std::pair{"hold", &models::zk_group_spec::hold}, std::pair{"think", &models::zk_group_spec::think}}) {
      if (!g[key]) continue;
      z.*field = r_.duration(g[key], key).value_or(z.*field);
      if ((z.*field).ns() <= 0) r_.error(g[key], fmt::format("{} must be longer than 0", key));
    }
    if (g["on_disconnect"]) {
      const std::string d = r_.text(g["on_disconnect"], "on_disconnect").value_or("");
      if (d != "stop" && d != "ignore") r_.error(g["on_disconnect"], fmt::format("on_disconnect must be stop or ignore, got '{}'", d));
      z.stop_on_disconnect = d != "ignore";
    }
    s.zookeeper.groups.push_back(std::move(z));
  }
}

models::failure_spec parser::failure(const YAML::Node& consumer) {
  models::failure_spec f;
  if (const YAML::Node n = consumer["fail"]; n && r_.is_map(n, "fail")) {
    r_.check_keys(n, {"probability"}, "fail");
    if (r_.require(n, "probability", "fail")) {
      f.probability = r_.number(n["probability"], "probability").value_or(0);
      if (!(f.probability >= 0 && f.probability < 1)) r_.error(n["probability"], "probability must be at least 0 and below 1");
    }
  }
  if (const YAML::Node n = consumer["poison"]; n && r_.is_map(n, "poison")) {
    r_.check_keys(n, {"every"}, "poison");
    if (r_.require(n, "every", "poison")) {
      f.poison_every = static_cast<std::uint32_t>(r_.integer(n["every"], "every", 1, 1'000'000'000).value_or(0));
    }
  }
  return f;
}

std::optional<broker::jms::destination_kind> parser::jms_destination(const YAML::Node& n, std::string_view where,
                                                                     std::string& name) {
  if (n["queue"] && n["topic"]) {
    r_.error(n["topic"], fmt::format("{} names a queue or a topic, not both", where));
    return std::nullopt;
  }
  if (!n["queue"] && !n["topic"]) {
    r_.error(n, fmt::format("missing required key 'queue' or 'topic' for {}", where));
    return std::nullopt;
  }
  const bool topic = static_cast<bool>(n["topic"]);
  name = r_.text(topic ? n["topic"] : n["queue"], topic ? "topic" : "queue").value_or("");
  if (name.empty() || name.starts_with('?')) r_.error(topic ? n["topic"] : n["queue"], "the destination name is empty");
  return topic ? broker::jms::destination_kind::topic : broker::jms::destination_kind::queue;
}

std::optional<models::send_step> parser::send(const YAML::Node& n, const YAML::Node& cost) {
  if (!r_.is_map(n, "send")) return std::nullopt;
  r_.check_keys(n, {"queue", "topic", "persistent", "priority", "ttl", "bytes", "keys", "message_groups"}, "send");
  models::send_step p;
  const auto kind = jms_destination(n, "send", p.destination);
  if (!kind) return std::nullopt;
  p.kind = *kind;
  if (n["persistent"]) p.persistent = r_.boolean(n["persistent"], "persistent").value_or(true);
  if (n["priority"]) p.priority = static_cast<std::uint8_t>(r_.integer(n["priority"], "priority", 0, 9).value_or(4));
  if (n["ttl"]) p.time_to_live_ms = r_.duration(n["ttl"], "ttl").value_or(sim::duration{}).ns() / 1'000'000;
  if (n["bytes"]) p.message_bytes = static_cast<std::uint32_t>(r_.integer(n["bytes"], "bytes", 0, 128 << 20).value_or(100));
  if (n["keys"]) p.keys = static_cast<int>(r_.integer(n["keys"], "keys", 0, 1'000'000).value_or(0));
  if (n["message_groups"]) {
    p.message_groups = r_.boolean(n["message_groups"], "message_groups").value_or(false);
    if (p.message_groups && p.keys == 0) r_.error(n["message_groups"], "message_groups needs keys: the key is the group");
  }
  if (cost) p.cost = r_.duration(cost, "cost").value_or(p.cost);
  return p;
}

void parser::jms(const YAML::Node& n, models::system_spec& s) {
  if (!r_.is_map(n, "jms")) return;
  r_.check_keys(n, {"consumers"}, "jms");
  s.jms.enabled = true;
  const YAML::Node list = n["consumers"];
  if (!list) return;
  if (!list.IsSequence()) {
    r_.error(list, "jms.consumers must be a list of {name, queue|topic, ...}");
    return;
  }
  static const std::pair<const char*, broker::jms::ack_mode> modes[] = {
      {"auto", broker::jms::ack_mode::auto_acknowledge},     {"client", broker::jms::ack_mode::client_acknowledge},
      {"dups_ok", broker::jms::ack_mode::dups_ok_acknowledge}, {"transacted", broker::jms::ack_mode::session_transacted},
      {"individual", broker::jms::ack_mode::individual_acknowledge}};
  for (const auto& c : list) {
    const std::string where = "a JMS consumer";
    r_.check_keys(c, {"name", "queue", "topic", "subscription", "selector", "count", "prefetch", "ack", "service", "offline",
                      "fail", "poison"},
                  where);
    models::jms_consumer_spec spec;
    if (r_.require(c, "name", where)) spec.name = r_.text(c["name"], "name").value_or("");
    if (auto kind = jms_destination(c, where, spec.destination)) spec.kind = *kind;
    if (c["subscription"]) {
      spec.subscription = r_.text(c["subscription"], "subscription").value_or("");
      if (spec.kind != broker::jms::destination_kind::topic) r_.error(c["subscription"], "a durable subscription needs a topic");
    }
    if (c["selector"]) {
      spec.selector = r_.text(c["selector"], "selector").value_or("");
      if (auto sel = broker::jms::selector::compile(spec.selector); !sel) {
        r_.error(c["selector"], fmt::format("invalid selector at column {}: {}", sel.error().column, sel.error().message));
      }
    }
    if (c["count"]) spec.count = static_cast<int>(r_.integer(c["count"], "count", 0, 10'000).value_or(1));
    if (c["prefetch"]) spec.prefetch = static_cast<std::uint32_t>(r_.integer(c["prefetch"], "prefetch", 0, 1'000'000).value_or(0));
    if (c["ack"]) {
      const std::string a = r_.text(c["ack"], "ack").value_or("");
      const auto* m = std::find_if(std::begin(modes), std::end(modes), [&](const auto& e) { return a == e.first; });
      if (m == std::end(modes)) r_.error(c["ack"], fmt::format("ack must be auto, client, dups_ok, transacted or individual, got '{}'", a));
      else spec.ack = m->second;
    }
    if (c["service"]) {
      if (auto d = r_.time_distribution(c["service"], "service")) spec.service = *d;
    }
    if (const YAML::Node off = c["offline"]) {
      r_.check_keys(off, {"from", "until"}, "offline");
      if (r_.require(off, "from", "offline")) spec.offline_from = r_.duration(off["from"], "from");
      if (off["until"]) spec.offline_until = r_.duration(off["until"], "until");
      if (spec.offline_from && spec.offline_until && *spec.offline_until <= *spec.offline_from) {
        r_.error(off["until"], "offline.until must be after offline.from");
      }
    }
    spec.failure = failure(c);
    s.jms.consumers.push_back(std::move(spec));
  }
}

}  // namespace mqlab::workbench::detail
