// `mqlab run/validate/sweep/compare` end to end: exit codes 0/1/2, located errors, JSON output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_command.h"

namespace mqlab {
namespace {

using testing_support::run_mqlab;
using testing_support::write_file;

const char* small = R"(name: small
duration: 20s
warmup: 1s
arrivals: {process: poisson, rate: 50/s}
stations:
  db: {servers: 4, service: 10ms}
pipeline: [db]
expect:
  - {metric: main.response.mean, approx: 10ms, within: 5%}
)";

/// `yaml`, written to `file`, run once in net mode (`flags` added): its first variant's metrics.
nlohmann::json net_metrics(const std::string& file, const char* yaml, const std::string& flags = "") {
  auto net = run_mqlab("run " + write_file(file, yaml) + " --quiet --no-charts --json --mode net --out -" + flags);
  EXPECT_EQ(net.exit_code, 0) << net.err;
  return net.exit_code == 0 ? nlohmann::json::parse(net.out)["variants"][0]["metrics"] : nlohmann::json::object();
}

std::string contents(const std::string& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(run_command, passing_lab_exits_0_and_json_is_run_json) {
  const auto path = write_file("small.yaml", small);
  auto r = run_mqlab("run " + path + " --out - --json --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mode"], "sim");
  EXPECT_EQ(j["scenario"]["name"], "small");
  EXPECT_TRUE(j["passed"].get<bool>());
  EXPECT_TRUE(j["variants"][0]["metrics"].contains("response.p99.9"));
}

TEST(run_command, failed_expectation_exits_1) {
  const auto path = write_file("small.yaml", small);
  auto r = run_mqlab("run " + path + " --out - --quiet --set stations.db.service=20ms");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("FAIL  main.response.mean approx 10ms within 5%"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find(path + ": expectation failed: main.response.mean approx 10ms within 5% (got"), std::string::npos)
      << r.err;
}

TEST(run_command, a_run_past_its_memory_cap_stops_says_why_and_exits_2) {
  // Five million messages a second into a queue nobody consumes: the queue grows until the cap.
  const auto path = write_file("flood.yaml", R"(name: flood
duration: 60s
arrivals: {process: poisson, rate: 5000000/s}
pipeline: [{publish: {exchange: "", routing_key: q}}]
broker: {queues: {q: {}}}
)");
  auto r = run_mqlab("run " + path + " --out - --quiet --max-memory 200");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("variant 'main' stopped at t="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("past the memory cap of 200 MiB (--max-memory)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("published"), std::string::npos) << r.out;  // what it measured is still shown
}

TEST(run_command, a_jms_pull_consumer_with_prefetch_0_receives_every_message) {
  // ActiveMQ's prefetch 0: nothing is pushed; each receive() asks the broker for one message.
  const auto path = write_file("pull.yaml", R"(name: pull
duration: 10s
arrivals: {process: poisson, rate: 100/s}
pipeline: [{send: {queue: work}}]
jms: {consumers: [{name: puller, queue: work, prefetch: 0, count: 2, service: 1ms}]}
expect:
  - {metric: main.jms.backlog, max: 5}
)");
  auto r = run_mqlab("run " + path + " --out - --quiet --json");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const auto& m = j["variants"][0]["metrics"];
  EXPECT_GT(m["jms.sent"]["mean"].get<double>(), 800);
  EXPECT_NEAR(m["jms.delivered"]["mean"].get<double>(), m["jms.sent"]["mean"].get<double>(), 5);
}

TEST(run_command, writes_the_results_folder) {
  const auto path = write_file("small.yaml", small);
  const auto out = ::testing::TempDir() + "/mqlab-out";
  std::filesystem::remove_all(out);
  auto r = run_mqlab("run " + path + " --quiet --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto runs = std::filesystem::path(out) / "small";
  ASSERT_TRUE(std::filesystem::is_directory(runs));
  const auto run_dir = std::filesystem::directory_iterator(runs)->path();
  for (const char* f : {"run.json", "metrics.csv", "series.csv"}) EXPECT_TRUE(std::filesystem::exists(run_dir / f)) << f;
  auto cmp = run_mqlab("compare " + run_dir.string() + " " + run_dir.string());
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("response.mean"), std::string::npos);
}

const char* queued = R"(name: queued
duration: 3s
warmup: 1s
arrivals: {process: poisson, rate: 100/s}
pipeline: [{publish: {routing_key: jobs}, cost: 1ms}]
consumers: {name: workers, queue: jobs, count: 2, prefetch: 10, service: 5ms}
expect:
  - {metric: main.lost, equals: 0}
)";

TEST(run_command, a_sim_run_and_a_net_run_compare_side_by_side) {
  const auto path = write_file("queued.yaml", queued);
  const auto out = ::testing::TempDir() + "/mqlab-sim-vs-net";
  std::filesystem::remove_all(out);
  ASSERT_EQ(run_mqlab("run " + path + " --quiet --no-charts --out " + out).exit_code, 0);
  auto net = run_mqlab("run " + path + " --quiet --no-charts --mode net --out " + out);
  ASSERT_EQ(net.exit_code, 0) << net.err;
  std::vector<std::filesystem::path> runs;
  for (const auto& d : std::filesystem::directory_iterator(std::filesystem::path(out) / "queued")) runs.push_back(d.path());
  ASSERT_EQ(runs.size(), 2u);
  std::map<std::string, nlohmann::json> by_mode;
  for (const auto& r : runs) {
    auto j = nlohmann::json::parse(std::ifstream(r / "run.json"));
    by_mode[j["mode"]] = j;
  }
  ASSERT_TRUE(by_mode.contains("sim") && by_mode.contains("net"));
  // Same seed, same arrivals: both published the same messages, one over TCP.
  const auto published = [](const nlohmann::json& j) { return j["variants"][0]["metrics"]["published"]["mean"].get<double>(); };
  EXPECT_EQ(published(by_mode["sim"]), published(by_mode["net"]));
  auto cmp = run_mqlab("compare " + runs[0].string() + " " + runs[1].string());
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("e2e.mean"), std::string::npos) << cmp.out;
}

// Net mode measures the CPU the simulation predicts, under the same names: each AMQP node's
// thread (node.N.cpu, a share of its one core), every server thread together (servers.cpu,
// cores) and the whole process over the machine's cores (host.cpu), which holds them.
TEST(run_command, a_net_run_measures_its_server_threads_and_its_process_cpu) {
  const auto m = net_metrics("queued.yaml", queued, " --set arrivals.rate=2000/s");
  ASSERT_FALSE(m.empty());
  const auto value = [&](const char* k) { return m.at(k).at("mean").get<double>(); };
  const double node = value("node.0.cpu"), servers = value("servers.cpu"), host = value("host.cpu");
  EXPECT_GT(node, 0) << "2 000 publishes, deliveries and acks a second cost the node something";
  EXPECT_LE(node, 1.0);
  EXPECT_DOUBLE_EQ(servers, node) << "one node";
  EXPECT_GT(host, 0);
  EXPECT_LE(host, 1.0);
  EXPECT_LE(servers, host * std::thread::hardware_concurrency() + 0.01) << "the process holds its server threads";
}

// A group that keeps up is handed every record produced: net mode's kafka.delivered_rate, as
// the simulation's, is the records its consumers got per second of the window. Net mode
// starts the scenario once librdkafka's group has formed, as the simulation's is at time 0,
// so even the first records wait for no join.
const char* kept_up = R"(name: kept-up
duration: 3s
warmup: 0.5s
profile: ideal
arrivals: {process: poisson, rate: 500/s}
pipeline: [{produce: {topic: t, acks: 1, linger: 0ms}}]
kafka:
  brokers: 1
  topics: {t: {partitions: 2}}
  groups: [{group: g, topic: t, count: 2, service: 0s}]
)";

TEST(run_command, a_net_kafka_group_that_keeps_up_is_delivered_the_produced_rate) {
  const auto m = net_metrics("kept-up.yaml", kept_up);
  ASSERT_FALSE(m.empty());
  const double produced = m.at("throughput").at("mean").get<double>();
  const double delivered = m.at("kafka.delivered_rate").at("mean").get<double>();
  EXPECT_NEAR(produced, 500, 100) << "Poisson arrivals over 2.5 s";
  EXPECT_NEAR(delivered, produced, 0.1 * produced);
  EXPECT_LT(m.at("e2e.max").at("mean").get<double>(), 0.5) << "no record waited for the group to join (~2 s)";
}

// A consumer acking with multiple=true once every 50 messages (prefetch 100) over the real
// network: each ack frees the 50 deliveries up to its tag, so the consumer keeps up and at
// the end at most a batch is left unacknowledged. Had the broker settled only the tagged
// delivery, the prefetch window would have filled after about 100 messages.
const char* batched_acks = R"(name: batched-acks
duration: 3s
warmup: 1s
profile: ideal
arrivals: {process: deterministic, rate: 500/s}
pipeline: [{publish: {routing_key: jobs}}]
consumers: {name: workers, queue: jobs, prefetch: 100, ack_every: 50, service: 0s}
)";

TEST(run_command, a_net_consumer_acking_fifty_at_a_time_keeps_up) {
  const auto m = net_metrics("batched-acks.yaml", batched_acks);
  ASSERT_FALSE(m.empty());
  const auto mean = [&](const char* name) { return m.at(name).at("mean").get<double>(); };
  EXPECT_NEAR(mean("consumed"), mean("completed"), 0.02 * mean("completed"));
  EXPECT_GE(mean("completed"), 900);
  EXPECT_LT(mean("queue.jobs.final_depth"), 50);
}

// Net mode's response is the real time from the moment the scenario scheduled the publish or
// produce until the client was done with it: written for a plain publish, the leader's and the
// in-sync followers' append for a Kafka produce with acks=all (Kafka's producer documentation).
const char* answered = R"(name: answered
duration: 4s
warmup: 1s
profile: ideal
arrivals: {process: poisson, rate: 200/s}
pipeline: [{publish: {routing_key: jobs}}]
consumers: {name: workers, queue: jobs, count: 1, prefetch: 50, service: 1ms}
variants:
  plain: {}
  acks-0:
    pipeline: [{produce: {topic: t, acks: 0, linger: 0ms}}]
    consumers: []
  acks-all:
    pipeline: [{produce: {topic: t, acks: all, linger: 0ms}}]
    consumers: []
kafka:
  brokers: 3
  replication_interval: 50ms
  topics: {t: {partitions: 1, replication_factor: 3}}
)";

TEST(run_command, net_mode_response_is_the_real_time_until_the_client_is_done) {
  const auto path = write_file("answered.yaml", answered);
  const auto metric = [](const nlohmann::json& j, const std::string& variant, const std::string& name) {
    for (const auto& v : j["variants"]) {
      if (v["name"] == variant) return v["metrics"][name]["mean"].get<double>();
    }
    return -1.0;
  };
  auto sim = run_mqlab("run " + path + " --quiet --json --out -");
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  const auto s = nlohmann::json::parse(sim.out);
  EXPECT_EQ(metric(s, "plain", "response.p50"), 0.0) << "ideal and no cost: the model answers at once";
  auto net = run_mqlab("run " + path + " --quiet --json --mode net --out -");
  ASSERT_EQ(net.exit_code, 0) << net.err;
  const auto n = nlohmann::json::parse(net.out);
  EXPECT_GT(metric(n, "plain", "response.p50"), 0.0) << "a write to the socket takes time";
  EXPECT_LT(metric(n, "plain", "response.p50"), 0.02);
  // acks=all waits for the followers, who copy every 50 ms; acks=0 only for the write.
  EXPECT_LT(metric(n, "acks-0", "response.p50"), 0.01);
  EXPECT_GT(metric(n, "acks-all", "response.p50"), 0.01);
  EXPECT_GT(metric(n, "acks-all", "response.p50"), 3 * metric(n, "acks-0", "response.p50"));
}

TEST(validate_command, broken_file_exits_2_with_file_line_column) {
  std::string broken = small;
  broken.replace(broken.find("servers"), 7, "servrs");
  const auto path = write_file("broken.yaml", broken);
  auto r = run_mqlab("validate " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path + ":6:8: unknown key 'servrs' in station 'db' (did you mean 'servers'?)"), std::string::npos)
      << r.err;
  auto run = run_mqlab("run " + path + " --out -");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(run.out.empty());
}

TEST(validate_command, missing_file_and_bad_set_exit_2) {
  EXPECT_EQ(run_mqlab("validate /nonexistent/x.yaml").exit_code, 2);
  const auto path = write_file("small.yaml", small);
  auto r = run_mqlab("run " + path + " --set novalue");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--set novalue: expected PATH=VALUE"), std::string::npos);
  EXPECT_EQ(run_mqlab("run " + path + " --mode carrier-pigeon").exit_code, 2);
}

TEST(sweep_command, tabulates_one_row_per_value_and_rejects_bad_ranges) {
  const auto path = write_file("small.yaml", small);
  const auto csv = ::testing::TempDir() + "/sweep.csv";
  auto r = run_mqlab("sweep " + path + " --vary stations.db.servers=1..3 --metric main.station.db.utilization --quiet --csv " + csv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Utilisation = 50/s x 10 ms / servers: 0.5, 0.25, 0.167 (20 s of Poisson arrivals: within 10%).
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "stations.db.servers,main.station.db.utilization,main.station.db.utilization.ci95,expectations_passed");
  for (int servers = 1; servers <= 3; ++servers) {
    ASSERT_TRUE(std::getline(in, line)) << servers;
    const auto first = line.find(','), second = line.find(',', first + 1);
    EXPECT_EQ(line.substr(0, first), std::to_string(servers));
    EXPECT_NEAR(std::stod(line.substr(first + 1, second - first - 1)), 0.5 / servers, 0.05 / servers) << line;
  }
  EXPECT_EQ(run_mqlab("sweep " + path + " --vary stations.db.servers=5..1").exit_code, 2);
  EXPECT_EQ(run_mqlab("sweep " + path + " --vary stations.db.servers=1,2 --vary duration=5s,6s --png x.png").exit_code, 2);
  EXPECT_EQ(run_mqlab("sweep " + path + " --vary stations.db.servers=one,two").exit_code, 2);
}

TEST(sweep_command, points_run_in_parallel_give_the_same_table_bit_for_bit) {
  const auto path = write_file("small-jobs.yaml", std::string(small) + "replications: 3\n");
  std::string csv[3];
  std::string table[3];
  const unsigned jobs[3] = {1, 4, 8};
  for (int k = 0; k < 3; ++k) {
    csv[k] = ::testing::TempDir() + "/sweep-jobs-" + std::to_string(jobs[k]) + ".csv";
    auto r = run_mqlab("sweep " + path + " --vary stations.db.servers=1..5 --vary duration=10s,20s "
                       "--metric main.response.p99 --metric main.station.db.utilization --quiet --jobs " +
                       std::to_string(jobs[k]) + " --csv " + csv[k]);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    table[k] = r.out;
  }
  const std::string one_job = contents(csv[0]);
  EXPECT_EQ(one_job, contents(csv[1]));
  EXPECT_EQ(one_job, contents(csv[2]));
  EXPECT_EQ(table[0], table[1]) << "rows print in order whatever finishes first";
  EXPECT_EQ(std::count(one_job.begin(), one_job.end(), '\n'), 11);
  EXPECT_EQ(run_mqlab("sweep " + path + " --vary stations.db.servers=1..2 --jobs 0").exit_code, 2);
}

TEST(sweep_command, three_shards_merged_print_and_write_what_one_process_does_byte_for_byte) {
  const auto path = write_file("small-shards.yaml", std::string(small) + "replications: 2\n");
  const std::string sweep = "sweep " + path + " --vary stations.db.servers=1..4 --vary duration=10s,20s "
                            "--metric main.response.p99 --quiet";
  const auto dir = ::testing::TempDir() + "/shards";
  std::filesystem::remove_all(dir);
  auto whole = run_mqlab(sweep + " --csv " + dir + "-whole.csv");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  for (int i = 1; i <= 3; ++i) {
    auto part = run_mqlab(sweep + " --shard " + std::to_string(i) + "/3 --out " + dir + "/" + std::to_string(i));
    ASSERT_EQ(part.exit_code, 0) << part.err;
  }
  auto merged = run_mqlab("merge " + dir + "/1 " + dir + "/2 " + dir + "/3 --csv " + dir + "-merged.csv");
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(merged.out, whole.out);
  EXPECT_EQ(contents(dir + "-merged.csv"), contents(dir + "-whole.csv"));
  auto missing = run_mqlab("merge " + dir + "/1 " + dir + "/3");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("shard 2 of 3 is missing"), std::string::npos) << missing.err;
  // A Slurm job array numbered from 4: task 5 is the second of three.
  setenv("SLURM_ARRAY_TASK_ID", "5", 1);
  setenv("SLURM_ARRAY_TASK_MIN", "4", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  auto slurm = run_mqlab(sweep + " --shard auto --out " + dir + "/slurm");
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_TASK_MIN");
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  ASSERT_EQ(slurm.exit_code, 0) << slurm.err;
  EXPECT_EQ(contents(dir + "/slurm/shard-2-of-3.json"), contents(dir + "/2/shard-2-of-3.json"));
  EXPECT_EQ(run_mqlab(sweep + " --shard auto --out " + dir + "/none").exit_code, 2);
  EXPECT_EQ(run_mqlab(sweep + " --shard 4/3 --out " + dir + "/bad").exit_code, 2);
  auto two_axes_png = run_mqlab("merge " + dir + "/1 " + dir + "/2 " + dir + "/3 --png " + dir + "-merged.png");
  EXPECT_EQ(two_axes_png.exit_code, 2);
  EXPECT_NE(two_axes_png.err.find("one numeric --vary"), std::string::npos) << two_axes_png.err;
}

bool is_png(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return std::string(magic + 1, 3) == "PNG";
}

#ifdef MQLAB_MPIEXEC
TEST(sweep_command, under_mpirun_the_ranks_share_the_points_and_rank_0_writes_what_one_process_does) {
  const auto path = write_file("small-mpi.yaml", std::string(small) + "replications: 2\n");
  const std::string sweep = "sweep " + path + " --vary stations.db.servers=1..5 --metric main.response.p99 "
                            "--metric main.station.db.utilization --quiet";
  const auto dir = ::testing::TempDir() + "/mpi";
  std::filesystem::create_directories(dir);
  // Open MPI refuses root unless told; CI runs as root.
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  const std::string mpirun = std::string(MQLAB_MPIEXEC) + " --oversubscribe -n 2";
  auto whole = run_mqlab(sweep + " --csv " + dir + "/whole.csv");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  auto ranks = run_mqlab(sweep + " --csv " + dir + "/ranks.csv --png " + dir + "/ranks.png", mpirun);
  ASSERT_EQ(ranks.exit_code, 0) << ranks.err;
  EXPECT_EQ(ranks.out, whole.out + "chart in " + dir + "/ranks.png\n") << "rank 0 alone prints, the whole table";
  EXPECT_EQ(contents(dir + "/ranks.csv"), contents(dir + "/whole.csv"));
  EXPECT_TRUE(is_png(dir + "/ranks.png"));
  auto both = run_mqlab(sweep + " --shard 1/2 --out " + dir + "/parts", mpirun);
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.err.find("--shard and mpirun both slice the points"), std::string::npos) << both.err;
}
#endif

TEST(sweep_command, draws_the_metrics_against_the_varied_value) {
  const auto path = write_file("small-png.yaml", small);
  const auto png = ::testing::TempDir() + "/sweep.png";
  std::filesystem::remove(png);
  auto r = run_mqlab("sweep " + path + " --vary stations.db.servers=1..3 --metric main.station.db.utilization "
                     "--metric main.response.p99 --quiet --png " + png);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_png(png));
  EXPECT_GT(std::filesystem::file_size(png), 10'000u);  // a drawn chart, not an empty image
}

}  // namespace
}  // namespace mqlab
