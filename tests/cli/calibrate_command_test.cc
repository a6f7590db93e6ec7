// `mqlab calibrate` against a real `mqlab broker` the test starts on a free loopback port: the
// profile it writes is one a scenario can run with, and its rates order the probes as routing
// costs do (a headers exchange pays for every binding, bigger messages cost more); a broker that
// is not there, refuses the login or never answers ends it with exit code 2 and no file.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "run_command.h"

namespace mqlab::testing_support {
namespace {

/// Starts `mqlab broker` on a free port; the port, or 0.
int start_broker(background_mqlab& broker) {
  const std::string line = broker.wait_for("AMQP 0-9-1 listening on 127.0.0.1:", 20);
  const auto colon = line.rfind(':');
  return colon == std::string::npos ? 0 : std::stoi(line.substr(colon + 1));
}

/// "  name   12345 msg/s" lines of calibrate's output.
std::map<std::string, double> rates_in(const std::string& out) {
  std::map<std::string, double> rates;
  const std::regex line(R"(^\s+(\S+)\s+(\d+) msg/s$)");
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) rates[m[1]] = std::stod(m[2]);
  }
  return rates;
}

TEST(calibrate_command, a_running_broker_is_calibrated_into_a_profile_a_scenario_runs_with) {
  background_mqlab broker("broker --amqp-port 0 --data-dir none");
  const int port = start_broker(broker);
  ASSERT_GT(port, 0);
  const std::string profile = ::testing::TempDir() + "/calibrated-" + std::to_string(getpid()) + ".yaml";
  auto r = run_mqlab("calibrate --amqp 127.0.0.1:" + std::to_string(port) + " --out " + profile +
                     " --seconds 0.3 --warmup 0.1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rates = rates_in(r.out);
  ASSERT_EQ(rates.size(), 10u) << r.out;
  EXPECT_LT(rates.at("headers-1000-bindings") * 3, rates.at("headers-10-bindings")) << r.out;
  EXPECT_LT(rates.at("acks-4kB"), rates.at("acks")) << r.out;
  EXPECT_NE(r.out.find("profile written to " + profile), std::string::npos) << r.out;

  const std::string scenario = write_file("calibrated-scenario.yaml", R"(name: calibrated
duration: 1s
arrivals: {process: poisson, rate: 1000/s}
pipeline: [{publish: {routing_key: work}}]
consumers: {queue: work, count: 2, prefetch: 10, service: 0s}
)");
  auto run = run_mqlab("run " + scenario + " --set profile=" + profile + " --out - --quiet");
  EXPECT_EQ(run.exit_code, 0) << run.err;
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

  silent_listener silent;
  ASSERT_GT(silent.port, 0);
  expect_refusal("--amqp 127.0.0.1:" + std::to_string(silent.port), "no answer from the broker within 2000 ms");

  background_mqlab broker("broker --amqp-port 0 --data-dir none");
  const int port = start_broker(broker);
  ASSERT_GT(port, 0);
  expect_refusal("--amqp 127.0.0.1:" + std::to_string(port) + " --user guest:wrong", "403");
}

}  // namespace
}  // namespace mqlab::testing_support
