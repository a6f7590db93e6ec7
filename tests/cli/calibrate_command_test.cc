// `mqlab calibrate` against a real `mqlab broker` the test starts on a free loopback port: the
// profile it writes is one a scenario can run with, and the broker CPU it measured orders the
// probes as routing costs do (a headers exchange pays for every binding, bigger messages cost
// more; a Kafka request per record costs more than a batch's share of one); a broker that is
// not there, refuses the login or never answers ends it with exit code 2 and no file.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "run_command.h"

namespace mqlab::testing_support {
namespace {

/// Waits for `mqlab broker` to say it listens (`what`: "AMQP 0-9-1", "Kafka broker 0"); the port, or 0.
int start_broker(background_mqlab& broker, const std::string& what = "AMQP 0-9-1") {
  const std::string line = broker.wait_for(what + " listening on 127.0.0.1:", 20);
  const auto colon = line.find(':', line.find("127.0.0.1"));
  return colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
}

/// For each line of `out` that `line` matches whole, its second group (a number) by its first (a name).
std::map<std::string, double> by_name(const std::string& out, const std::regex& line) {
  std::map<std::string, double> values;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) values[m[1]] = std::stod(m[2]);
  }
  return values;
}

/// "  name   12345 msg/s" (or records/s) lines of calibrate's output.
std::map<std::string, double> rates_in(const std::string& out, const std::string& unit = "msg") {
  return by_name(out, std::regex(R"(^\s+(\S+)\s+(\d+) )" + unit + "/s$"));
}

/// The broker's cores each probe kept busy, from the last column of calibrate's table.
std::map<std::string, double> broker_cores_in(const std::string& out) {
  return by_name(out, std::regex(R"(^\s+(\S+)\s+\d+\s+\d+\s+-?[\d.]+%\s+([\d.]+)$)"));
}

/// The broker's CPU seconds a message (AMQP, `probes`) or a record (Kafka, `kafka_probes`) of
/// each probe, from the raw data of a written profile: all of it, first touches of fresh memory
/// included (how much of it was fresh depends on what the allocator kept from earlier probes).
/// Unlike the rates, which the prober sets when it is the slower (under the sanitizers, or
/// beside another test), this is the broker's own cost.
std::map<std::string, double> broker_cpu_per_record(const std::string& profile, const char* probes = "kafka_probes",
                                                    const char* counted = "records") {
  std::map<std::string, double> values;
  for (const auto& probe : YAML::Load(profile)["calibration"][probes])
    values[probe["name"].as<std::string>()] = probe["broker_cpu_seconds"].as<double>() / probe[counted].as<double>();
  return values;
}

TEST(calibrate_command, a_running_broker_is_calibrated_into_a_profile_a_scenario_runs_with) {
  background_mqlab broker("broker --amqp-port 0 --data-dir none");
  const int port = start_broker(broker);
  ASSERT_GT(port, 0);
  const std::string profile = ::testing::TempDir() + "/calibrated-" + std::to_string(getpid()) + ".yaml";
  auto r = run_mqlab("calibrate --amqp 127.0.0.1:" + std::to_string(port) + " --broker-pid " + std::to_string(broker.pid()) +
                     " --out " + profile + " --seconds 0.3 --warmup 0.1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rates = rates_in(r.out);
  ASSERT_EQ(rates.size(), 13u) << r.out;
  EXPECT_NE(r.out.find("profile written to " + profile), std::string::npos) << r.out;
  std::stringstream text;
  text << std::ifstream(profile).rdbuf();
  const std::string written = text.str();
  const auto cpu = broker_cpu_per_record(written, "probes", "messages");
  ASSERT_EQ(cpu.size(), 13u) << written;
  EXPECT_GT(cpu.at("headers-1000-bindings"), 3 * cpu.at("headers-10-bindings")) << r.out;
  // A socket read for every message (each publisher waits for its confirm) costs the server far
  // more than the same messages read hundreds at a time.
  EXPECT_GT(cpu.at("confirms-one-at-a-time"), 3 * cpu.at("confirms")) << r.out;
  EXPECT_GT(cpu.at("acks-4kB"), cpu.at("acks")) << r.out;
  // Behind a standing backlog every message is stored and fetched again; elsewhere none is, and
  // the stored message's cost is fitted from that probe.
  for (const auto& probe : YAML::Load(written)["calibration"]["probes"]) {
    const auto name = probe["name"].as<std::string>();
    const auto stored = probe["work_per_message"]["stored"];
    EXPECT_EQ(stored ? stored.as<double>() : 0.0, name == "acks-backlog" ? 1.0 : 0.0) << name;
  }
  const auto at = written.find("\n  stored: {ns: ");
  ASSERT_NE(at, std::string::npos) << written;
  const std::string stored_cost = written.substr(at + 1, written.find('\n', at + 1) - at - 1);
  EXPECT_NE(stored_cost.find("fitted to the 13 amqp probes"), std::string::npos) << stored_cost;

  const std::string scenario = write_file("calibrated-scenario.yaml", R"(name: calibrated
duration: 1s
arrivals: {process: poisson, rate: 1000/s}
pipeline: [{publish: {routing_key: work}}]
consumers: {queue: work, count: 2, prefetch: 10, service: 0s}
)");
  auto run = run_mqlab("run " + scenario + " --set profile=" + profile + " --out - --quiet");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // The machine's wake-up cost, measured here, is the node's and the clients' alike.
  const auto first = written.find("\n  wake_up: ");
  ASSERT_NE(first, std::string::npos) << written;
  EXPECT_NE(written.find("\n  wake_up: ", first + 1), std::string::npos) << "the clients' too";
  std::filesystem::remove(profile);
}

/// `mqlab calibrate --kafka` with short probes against `mqlab broker BROKER_ARGS` (its CPU read
/// by pid): what it printed, and the profile it wrote (then removed).
struct kafka_calibration {
  command_result run;
  std::string profile;
};
kafka_calibration calibrate_kafka(const std::string& broker_args) {
  background_mqlab broker("broker " + broker_args);
  const int port = start_broker(broker, "Kafka broker 0");
  if (port <= 0) {
    ADD_FAILURE() << "no Kafka broker started with " << broker_args;
    return {};
  }
  const std::string path = ::testing::TempDir() + "/kafka-calibrated-" + std::to_string(getpid()) + ".yaml";
  kafka_calibration out{run_mqlab("calibrate --kafka 127.0.0.1:" + std::to_string(port) + " --broker-pid " +
                                  std::to_string(broker.pid()) + " --out " + path + " --seconds 0.5 --warmup 0.2"),
                        ""};
  std::ifstream in(path);
  out.profile.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return out;
}

TEST(calibrate_command, a_running_kafka_broker_is_calibrated_with_its_cpu_time) {
  const auto [r, text] = calibrate_kafka("--kafka-port 0 --data-dir none");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rates = rates_in(r.out, "records");
  ASSERT_EQ(rates.size(), 9u) << r.out;
  EXPECT_FALSE(rates.contains("replicated")) << "one broker cannot replicate: " << r.out;
  // A produce request per record is slower than thousands of records sharing one.
  EXPECT_LT(rates.at("produce-unbatched") * 2, rates.at("produce-batched")) << r.out;
  // And it costs the broker more than ten records sharing one, though either may go at the
  // prober's pace (as under the sanitizers): compared in the broker's CPU time a record.
  EXPECT_EQ(broker_cores_in(r.out).size(), 9u) << r.out;  // the table's last column
  const auto cpu = broker_cpu_per_record(text);
  ASSERT_EQ(cpu.size(), 9u) << text;
  EXPECT_GT(cpu.at("produce-unbatched"), cpu.at("produce-10-per-batch")) << r.out << text;
  EXPECT_LT(rates.at("produce-4kB"), rates.at("produce-batched")) << r.out;
  // Sixteen producers with a request in flight each: every request is a read of its own, which
  // the fit prices (what a read costs against pipelined requests sharing them is measured on a
  // quiet machine: docs/commands.md; under the sanitizers the prober is too slow to pipeline).
  const YAML::Node written = YAML::Load(text);
  for (const auto& probe : written["calibration"]["kafka_probes"]) {
    if (probe["name"].as<std::string>() != "produce-one-at-a-time") continue;
    EXPECT_GE(probe["work_per_record"]["socket_read"].as<double>(), 1.0) << text;  // and the consumer's fetches
  }
  EXPECT_TRUE(written["kafka"]["socket_read"]["ns"]) << text;

  EXPECT_NE(text.find("record_appended: {ns:"), std::string::npos) << text;
  EXPECT_NE(text.find("fitted to the 9 kafka probes"), std::string::npos) << text;
  EXPECT_NE(text.find("broker_cpu_seconds:"), std::string::npos) << text;  // the broker's CPU was read
  EXPECT_NE(text.find("records_per_batch:"), std::string::npos) << text;
  // The broker's log grows in memory: its resident bytes are read, and a first touch is priced.
  EXPECT_NE(text.find("broker_memory_grown:"), std::string::npos) << text;
  EXPECT_NE(text.find("memory_grown: {ns_per_byte:"), std::string::npos) << text;
  EXPECT_NE(text.find("first write to fresh memory on this machine"), std::string::npos) << text;
}

TEST(calibrate_command, three_kafka_brokers_add_a_probe_that_replicates) {
  const auto [r, text] = calibrate_kafka("--cluster 3 --kafka-port 0 --data-dir none");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rates = rates_in(r.out, "records");
  ASSERT_EQ(rates.size(), 10u) << r.out;
  // Each record of the replicated probe is appended three times and fetched three times (two
  // followers and the consumer): the broker's CPU per record is more than for one copy.
  const auto cpu = broker_cpu_per_record(text);
  ASSERT_EQ(cpu.size(), 10u) << text;
  EXPECT_GT(cpu.at("replicated"), 2 * cpu.at("acks-all")) << r.out << text;
  EXPECT_NE(text.find("record_replicated: {ns:"), std::string::npos) << text;
  EXPECT_NE(text.find("work_per_record: {frame:"), std::string::npos) << text;
}

TEST(calibrate_command, a_clusters_nodes_add_probes_that_cross_nodes_and_mirror) {
  background_mqlab broker("broker --cluster 3 --amqp-port 0 --data-dir none");
  std::string nodes;
  for (int n = 0; n < 3; ++n) {
    const int port = start_broker(broker, "AMQP 0-9-1 node " + std::to_string(n));
    ASSERT_GT(port, 0) << n;
    nodes += (n ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(port);
  }
  const std::string profile = ::testing::TempDir() + "/cluster-calibrated-" + std::to_string(getpid()) + ".yaml";
  auto r = run_mqlab("calibrate --amqp " + nodes + " --broker-pid " + std::to_string(broker.pid()) + " --out " + profile +
                     " --seconds 0.3 --warmup 0.1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rates = rates_in(r.out);
  ASSERT_EQ(rates.size(), 16u) << r.out;
  std::ifstream in(profile);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Crossing nodes costs both ends; copying to two mirrors costs more again. Judged by the
  // broker's CPU per message: two 0.3 s rates on a busy machine can swap places.
  const auto cpu = broker_cpu_per_record(text, "probes", "messages");
  ASSERT_EQ(cpu.size(), 16u) << text;
  EXPECT_GT(cpu.at("across-nodes"), cpu.at("acks")) << r.out;
  EXPECT_GT(cpu.at("mirrored-across-nodes"), cpu.at("across-nodes")) << r.out;
  // Mirroring, crossing nodes and socket reads were measured, not taken from the prior.
  for (const std::string kind : {"transfer", "mirror_copy", "socket_read"}) {
    const auto at = text.find("\n  " + kind + ": {ns: ");
    ASSERT_NE(at, std::string::npos) << kind << "\n" << text;
    const std::string line = text.substr(at + 1, text.find('\n', at + 1) - at - 1);
    EXPECT_NE(line.find("fitted to the 16 amqp probes"), std::string::npos) << line;
  }
  std::filesystem::remove(profile);
}

/// A port that listens and never answers: the kernel completes the connection, nobody speaks.
struct silent_listener {
  silent_listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0 && listen(fd, 8) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
  }
  ~silent_listener() { close(fd); }
  int fd = -1;
  int port = 0;
};

TEST(calibrate_command, no_broker_a_refused_login_or_a_silent_one_ends_with_exit_2_and_no_profile) {
  const std::string profile = ::testing::TempDir() + "/never-" + std::to_string(getpid()) + ".yaml";
  auto expect_refusal = [&](const std::string& args, const std::string& reason) {
    auto r = run_mqlab("calibrate " + args + " --out " + profile + " --answer-timeout 2");
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(profile)) << args;
  };
  expect_refusal("--amqp 127.0.0.1", "expected HOST:PORT");
  expect_refusal("--amqp 127.0.0.1:70000", "expected HOST:PORT");
  expect_refusal("--amqp localhost:5672", "not an IP address");
  expect_refusal("--amqp 127.0.0.1:5672 --user guest", "expected USER:PASSWORD");
  expect_refusal("", "nothing to calibrate");
  expect_refusal("--kafka 127.0.0.1:9092,127.0.0.1", "expected HOST:PORT");
  expect_refusal("--kafka 127.0.0.1:9092 --broker-pid 4194303", "no process 4194303");
  expect_refusal("--kafka 127.0.0.1:9092 --broker-pid " + std::to_string(getpid()) + ",4194302", "no process 4194302");

  silent_listener silent;
  ASSERT_GT(silent.port, 0);
  expect_refusal("--amqp 127.0.0.1:" + std::to_string(silent.port), "no answer from the broker within 2000 ms");
  expect_refusal("--kafka 127.0.0.1:" + std::to_string(silent.port), "no Kafka metadata within 2000 ms");

  background_mqlab broker("broker --amqp-port 0 --data-dir none");
  const int port = start_broker(broker);
  ASSERT_GT(port, 0);
  expect_refusal("--amqp 127.0.0.1:" + std::to_string(port) + " --user guest:wrong", "403");
}

}  // namespace
}  // namespace mqlab::testing_support
