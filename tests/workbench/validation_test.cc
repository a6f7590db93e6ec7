// Broken scenario files: each problem is reported with its line and column and a useful hint,
// and all problems of a file are reported together.
#include "workbench/scenario.h"

#include <gtest/gtest.h>

namespace mqlab::workbench {
namespace {

const char* valid = R"(name: ok
duration: 10s
arrivals: {process: poisson, rate: 100/s}
stations:
  db: {servers: 2, service: 5ms}
pipeline: [db]
)";

struct broken_case {
  const char* name;
  std::string yaml;
  int line;
  int column;
  const char* message;  // a part of the message
};

class broken_scenario : public ::testing::TestWithParam<broken_case> {};

TEST_P(broken_scenario, reports_the_place_and_the_cause) {
  const auto& c = GetParam();
  auto sc = parse_scenario(c.yaml);
  ASSERT_FALSE(sc.has_value()) << c.name;
  bool found = false;
  for (const auto& d : sc.error().items()) {
    if (d.line == c.line && d.column == c.column && d.message.find(c.message) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << c.name << ":\n" << sc.error().format("f.yaml");
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    table, broken_scenario,
    ::testing::Values(
        broken_case{"typo_in_key", replace(valid, "servers:", "servrs:"), 5, 8, "did you mean 'servers'"},
        broken_case{"bad_unit", replace(valid, "duration: 10s", "duration: 10sec"), 2, 11, "unknown unit 'sec'"},
        broken_case{"unknown_station", replace(valid, "pipeline: [db]", "pipeline: [dbb]"), 6, 12,
                    "unknown station 'dbb' (did you mean 'db'?)"},
        broken_case{"negative_rate", replace(valid, "rate: 100/s", "rate: -5/s"), 3, 36, "rate must be positive"},
        broken_case{"missing_required", replace(valid, "duration: 10s\n", ""), 1, 1, "missing required key 'duration'"},
        broken_case{"wrong_type", replace(valid, "servers: 2", "servers: two"), 5, 17, "servers must be an integer, got 'two'"},
        broken_case{"top_level_typo", std::string(valid) + "replicatons: 3\n", 7, 1, "did you mean 'replications'"},
        broken_case{"bad_distribution", replace(valid, "service: 5ms", "service: {dist: weibull, mean: 5ms}"), 5, 36,
                    "unknown distribution 'weibull'"},
        broken_case{"yaml_syntax", "name: x\nduration: [1s\n", 3, 1, "YAML syntax error"},
        broken_case{"unknown_variant_in_expect", std::string(valid) + "expect:\n  - {metric: mian.response.mean, max: 1s}\n", 8,
                    14, "did you mean 'main'"},
        broken_case{"overflow_value",
                    std::string(valid) + "broker: {queues: {q: {max_length: 5, overflow: explode}}}\n", 7, 48,
                    "overflow must be drop-head"},
        broken_case{"jms_bad_selector",
                    std::string(valid) + "jms: {consumers: [{name: c, queue: q, selector: \"a = = 1\"}]}\n", 7, 49,
                    "invalid selector at column 5"},
        broken_case{"jms_bad_ack", std::string(valid) + "jms: {consumers: [{name: c, queue: q, ack: sometimes}]}\n", 7, 44,
                    "ack must be auto, client, dups_ok, transacted or individual"},
        broken_case{"jms_both_queue_and_topic",
                    std::string(valid) + "jms: {consumers: [{name: c, queue: q, topic: t}]}\n", 7, 46,
                    "names a queue or a topic, not both"},
        broken_case{"jms_durable_on_a_queue",
                    std::string(valid) + "jms: {consumers: [{name: c, queue: q, subscription: s}]}\n", 7, 53,
                    "a durable subscription needs a topic"},
        broken_case{"unknown_profile", std::string(valid) + "profile: fastest\n", 7, 10, "cannot open profile 'fastest'"},
        broken_case{"queue_on_a_missing_node", std::string(valid) + "broker: {queues: {q: {node: 3}}}\n", 7, 9,
                    "queue 'q' is on node 3, but the cluster has 1 node(s)"},
        broken_case{"bad_bandwidth", std::string(valid) + "links: {nodes: {bandwidth: fast}}\n", 7, 28,
                    "bandwidth must be a positive bandwidth such as 10Gbit/s"},
        broken_case{"slow_without_factor", std::string(valid) + "faults: [{at: 1s, slow: node-0}]\n", 7, 10,
                    "missing required key 'factor' in a slow fault"},
        broken_case{"degrade_without_what", std::string(valid) + "faults: [{at: 1s, degrade: node-0}]\n", 7, 10,
                    "a degrade fault needs latency, bandwidth or both"},
        broken_case{"fault_on_a_missing_node", std::string(valid) + "faults: [{at: 1s, crash: nodeX}]\n", 7, 26,
                    "crash: no node 'nodeX' (there are node-0..node-0)"},
        broken_case{"kill_of_a_missing_group", std::string(valid) + "faults: [{at: 1s, kill: workers}]\n", 7, 25,
                    "kill: no consumer or zookeeper group 'workers'"},
        broken_case{"session_below_the_brokers_minimum",
                    std::string(valid) + "kafka: {topics: {t: {}}, groups: [{group: g, topic: t, session_timeout: 2s}]}\n", 7, 73,
                    "session_timeout must be within 6s..1800s"},
        broken_case{"heartbeat_not_shorter_than_the_session",
                    std::string(valid) +
                        "kafka: {topics: {t: {}}, groups: [{group: g, topic: t, session_timeout: 6s, heartbeat_interval: 6s}]}\n",
                    7, 97, "heartbeat_interval must be shorter than session_timeout"},
        broken_case{"a_sample_every_nanosecond", std::string(valid) + "sample_interval: 1ns\n", 7, 18,
                    "at most 100000 are kept"},
        broken_case{"plan_range_backwards",
                    std::string(valid) + "plan: {minimize: stations.db.servers=5..1, slo: ['main.response.mean<=1s']}\n", 7, 18,
                    "expected PATH=FROM..TO[:STEP] with integers, 0 <= FROM <= TO"},
        broken_case{"plan_objective_without_relation",
                    std::string(valid) + "plan: {minimize: stations.db.servers=1..5, slo: ['main.response.mean 1s']}\n", 7, 50,
                    "expected METRIC<=VALUE"},
        broken_case{"plan_without_a_range", std::string(valid) + "plan: {slo: ['main.response.mean<=1s']}\n", 7, 7,
                    "plan needs one of minimize and max_rate"},
        broken_case{"kafka_process_without_cores", std::string(valid) + "kafka: {process_cores: -1, topics: {t: {}}}\n", 7, 24,
                    "process_cores must be between 0 and 1024, got -1"},
        broken_case{"kafka_commit_mode_unknown",
                    std::string(valid) + "kafka: {topics: {t: {}}, groups: [{group: g, topic: t, commit: sometimes}]}\n", 7, 64,
                    "commit must be poll, auto, auto:INTERVAL, record or before-processing, got 'sometimes'"},
        broken_case{"message_groups_without_keys",
                    std::string(valid) + "variants: {v: {pipeline: [{send: {queue: q, message_groups: true}}]}}\n", 7, 61,
                    "message_groups needs keys: the key is the group"},
        broken_case{"binding_count_out_of_range",
                    std::string(valid) + "broker: {bindings: [{queue: \"q{i}\", exchange: x, count: 0}]}\n", 7, 57,
                    "count must be"},
        broken_case{"failure_that_always_happens",
                    std::string(valid) + "consumers: {queue: q, service: 1ms, fail: {probability: 1}}\n", 7, 57,
                    "probability must be at least 0 and below 1"},
        broken_case{"multiple_acks_beyond_the_prefetch_window",
                    std::string(valid) + "consumers: {queue: q, service: 1ms, prefetch: 10, ack_every: 20}\n", 7, 62,
                    "ack_every 20 is more than prefetch 10"},
        broken_case{"multiple_acks_of_an_auto_ack_consumer",
                    std::string(valid) + "consumers: {queue: q, service: 1ms, ack: auto, ack_every: 2}\n", 7, 59,
                    "ack_every needs ack: manual"},
        broken_case{"poison_every_zero", std::string(valid) + "consumers: {queue: q, service: 1ms, poison: {every: 0}}\n", 7, 53,
                    "every must be"},
        broken_case{"retry_multiplier_below_one",
                    std::string(valid) + "variants: {v: {pipeline: [{publish: {confirm: true, retry: {multiplier: 0.5}}}]}}\n", 7,
                    73, "multiplier must be between 1 and 100"},
        broken_case{"concurrency_upside_down", std::string(valid) + "consumers: {queue: q, service: 1ms, concurrency: 10-3}\n", 7,
                    50, "concurrency must be N or MIN-MAX with 1 <= MIN <= MAX, got '10-3'"},
        broken_case{"disconnect_of_a_missing_zookeeper_group",
                    std::string(valid) + "faults: [{at: 1s, disconnect: nobody, for: 2s}]\n", 7, 31,
                    "disconnect: no zookeeper group 'nobody'"},
        broken_case{"zookeeper_recipe_unknown",
                    std::string(valid) + "zookeeper: {groups: [{name: g, recipe: barrier}]}\n", 7, 40,
                    "recipe must be leader or lock, got 'barrier'"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(scenario_validation, every_error_is_reported_not_just_the_first) {
  auto sc = parse_scenario(replace(replace(valid, "servers:", "servrs:"), "duration: 10s", "duration: 10xs"));
  ASSERT_FALSE(sc.has_value());
  EXPECT_EQ(sc.error().items().size(), 2u) << sc.error().format("f.yaml");
}

TEST(scenario_validation, format_prints_file_line_column) {
  auto sc = parse_scenario(replace(valid, "servers:", "servrs:"));
  ASSERT_FALSE(sc.has_value());
  EXPECT_EQ(sc.error().format("lab.yaml").rfind("lab.yaml:5:8: unknown key 'servrs'", 0), 0u) << sc.error().format("lab.yaml");
}

TEST(scenario_validation, valid_file_parses_into_one_variant) {
  auto sc = parse_scenario(valid);
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  ASSERT_EQ(sc->variants.size(), 1u);
  EXPECT_EQ(sc->variants[0].name, "main");
  EXPECT_EQ(sc->variants[0].system.duration, sim::duration::seconds(10));
  EXPECT_EQ(sc->variants[0].system.stations.at("db").servers, 2);
}

TEST(scenario_validation, set_overrides_any_field_and_bad_values_are_located_errors) {
  auto sc = parse_scenario(valid, {{"duration", "3s"}, {"stations.db.servers", "7"}});
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  EXPECT_EQ(sc->variants[0].system.duration, sim::duration::seconds(3));
  EXPECT_EQ(sc->variants[0].system.stations.at("db").servers, 7);
  auto bad = parse_scenario(valid, {{"duration", "soon"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().format("f").find("duration"), std::string::npos);
}

TEST(scenario_validation, variants_replace_top_level_keys) {
  const std::string yaml = std::string(valid) + R"(variants:
  small: {}
  big: {stations: {db: {servers: 9, service: 5ms}}}
)";
  auto sc = parse_scenario(yaml);
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  ASSERT_EQ(sc->variants.size(), 2u);
  EXPECT_EQ(sc->variants[0].system.stations.at("db").servers, 2);
  EXPECT_EQ(sc->variants[1].system.stations.at("db").servers, 9);
}

TEST(scenario_validation, a_scenario_is_priced_by_the_default_profile_unless_it_names_another) {
  auto priced = parse_scenario(valid);
  ASSERT_TRUE(priced.has_value()) << priced.error().format("f");
  const auto& costs = priced->variants[0].system.costs;
  EXPECT_FALSE(costs.ideal);
  EXPECT_EQ(costs.profile, "default");
  // profiles/default.yaml: a classic queue's enqueue costs 6 us of its process.
  EXPECT_EQ(costs.amqp.ns[static_cast<std::size_t>(broker::work_kind::enqueue)], 6000);
  auto ideal = parse_scenario(std::string(valid) + "profile: ideal\n");
  ASSERT_TRUE(ideal.has_value()) << ideal.error().format("f");
  EXPECT_TRUE(ideal->variants[0].system.costs.ideal);
}

TEST(scenario_validation, node_and_links_override_the_profile) {
  auto sc = parse_scenario(std::string(valid) +
                           "broker: {node: {cores: 2, disk: {fsync: 5ms, group_commit: false}, nic: {bandwidth: 1Gbit/s}}}\n"
                           "links: {client: {latency: 1ms, bandwidth: 100MB/s}}\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  const auto& costs = sc->variants[0].system.costs;
  EXPECT_EQ(costs.node.cores, 2);
  EXPECT_FALSE(costs.node.disk.group_commit);
  EXPECT_DOUBLE_EQ(costs.node.disk.fsync.mean(), 0.005);
  EXPECT_DOUBLE_EQ(costs.node.nic_bandwidth, 125e6);
  EXPECT_DOUBLE_EQ(costs.client_link.bandwidth, 100e6);
  EXPECT_DOUBLE_EQ(costs.client_link.latency.mean(), 0.001);
}

TEST(scenario_validation, a_named_node_differs_from_the_others_only_in_what_it_says) {
  auto sc = parse_scenario(std::string(valid) + "broker: {cluster: {nodes: 3}, node: {cores: 2}, nodes: {1: {cores: 16}}}\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  const auto& costs = sc->variants[0].system.costs;
  EXPECT_EQ(costs.of(0).cores, 2);
  EXPECT_EQ(costs.of(1).cores, 16);
  EXPECT_EQ(costs.of(2).cores, 2);
  EXPECT_DOUBLE_EQ(costs.of(1).disk.fsync.mean(), costs.of(0).disk.fsync.mean());
}

TEST(scenario_validation, a_binding_with_a_count_makes_that_many_bindings_and_queues) {
  auto sc = parse_scenario(std::string(valid) +
                           "broker: {exchanges: {x: headers}, bindings: [{queue: \"s-{i}\", exchange: x, "
                           "arguments: {shard: \"v{i}\"}, count: 3}]}\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  const auto& b = sc->variants[0].system.broker;
  ASSERT_EQ(b.bindings.size(), 3u);
  EXPECT_EQ(b.bindings[2].queue, "s-2");
  EXPECT_EQ(b.bindings[2].arguments.back().second, broker::amqp::field_value(std::string("v2")));
  EXPECT_EQ(b.queues.size(), 3u);
}

TEST(scenario_validation, keep_variants_drops_the_others_and_their_expectations) {
  auto sc = parse_scenario(std::string(valid) + "variants: {a: {}, b: {}}\nexpect:\n  - {metric: a.completed, min: 0}\n"
                           "  - {metric: b.completed, min: 0, sim_only: true}\n");
  ASSERT_TRUE(sc.has_value()) << sc.error().format("f");
  EXPECT_TRUE(sc->expect[1].sim_only);
  ASSERT_TRUE(keep_variants(*sc, {"b"}).has_value());
  ASSERT_EQ(sc->variants.size(), 1u);
  EXPECT_EQ(sc->variants[0].name, "b");
  ASSERT_EQ(sc->expect.size(), 1u);
  EXPECT_EQ(sc->expect[0].metric, "b.completed");
  EXPECT_EQ(keep_variants(*sc, {"c"}).error(), "no variant 'c' (the scenario has: b)");
}

}  // namespace
}  // namespace mqlab::workbench
