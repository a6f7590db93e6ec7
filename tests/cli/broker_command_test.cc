// `mqlab broker` refuses what RabbitMQ refuses before it listens: a cluster secret file others
// can read (RabbitMQ's rule for the Erlang cookie), a malformed permission, memory watermark or
// fsync policy, a data directory another broker holds, and names the flag with exit code 2;
// `--check` reads a data directory and says with its exit code whether it is sound.
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "run_command.h"

namespace mqlab {
namespace {

using testing_support::run_mqlab;
namespace fs = std::filesystem;

fs::path secret_file(const std::string& name, fs::perms perms) {
  const fs::path p = fs::temp_directory_path() / name;
  std::ofstream(p) << "s3cret\n";
  fs::permissions(p, perms);
  return p;
}

TEST(broker_command, a_cluster_secret_file_others_can_read_is_refused) {
  const auto open = secret_file("mqlab-open-secret", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                                         fs::perms::others_read);
  auto r = run_mqlab("broker --amqp-port 0 --cluster 2 --cluster-secret-file " + open.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("must be accessible by its owner only (chmod 600)"), std::string::npos) << r.err;
}

TEST(broker_command, a_missing_or_empty_secret_file_is_refused) {
  auto r = run_mqlab("broker --amqp-port 0 --cluster 2 --cluster-secret-file /nonexistent/secret");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--cluster-secret-file /nonexistent/secret"), std::string::npos) << r.err;
  const auto empty = fs::temp_directory_path() / "mqlab-empty-secret";
  std::ofstream(empty).flush();
  fs::permissions(empty, fs::perms::owner_read | fs::perms::owner_write);
  r = run_mqlab("broker --amqp-port 0 --cluster 2 --cluster-secret-file " + empty.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("1 to 255 bytes"), std::string::npos) << r.err;
}

TEST(broker_command, bad_permissions_and_memory_watermarks_are_refused_before_listening) {
  auto r = run_mqlab("broker --amqp-port 0 --permissions 'clerk:/:(:.*:.*'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pattern '(' is not a regular expression"), std::string::npos) << r.err;
  r = run_mqlab("broker --amqp-port 0 --permissions clerk:/");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("expected USER:VHOST:CONFIGURE:WRITE:READ"), std::string::npos) << r.err;
  for (const char* bad : {"1.5", "0.", "lots", "-3"}) {
    r = run_mqlab(std::string("broker --amqp-port 0 --memory-high-watermark ") + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--memory-high-watermark"), std::string::npos) << r.err;
  }
}

struct data_dir {
  fs::path path = fs::temp_directory_path() /
                  ("mqlab-cli-data-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  data_dir() { fs::remove_all(path); }
  ~data_dir() { fs::remove_all(path); }
};

TEST(broker_command, a_data_directory_another_broker_holds_is_refused) {
  data_dir d;
  fs::create_directories(d.path);
  const int fd = ::open((d.path / "lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running broker holds it
  auto r = run_mqlab("broker --amqp-port 0 --data-dir " + d.path.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is in use by another mqlab broker"), std::string::npos) << r.err;
  ::close(fd);
}

TEST(broker_command, check_says_whether_a_data_directory_is_sound) {
  data_dir d;
  auto r = run_mqlab("broker --check --data-dir " + d.path.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ofstream(d.path / "amqp" / "definitions") << "not a definitions file";
  r = run_mqlab("broker --check --data-dir " + d.path.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("definitions: not one whole record with a matching CRC"), std::string::npos) << r.err;
  r = run_mqlab("broker --check --data-dir none");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--check needs a --data-dir"), std::string::npos) << r.err;
}

TEST(broker_command, a_definitions_file_is_checked_entry_by_entry_before_listening) {
  data_dir d;
  fs::create_directories(d.path);
  const std::pair<const char*, const char*> cases[] = {
      {"{\"users\": [", "not JSON"},
      {R"({"users": [{"name": "a", "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"}]})",
       "users[0]: 'password_hash' is not supported"},
      {R"({"permissions": [{"user": "a", "vhost": "/", "configure": "(", "write": "", "read": ""}]})",
       "permissions[0]: pattern '(' is not a regular expression"},
      {R"({"queues": [{"name": "q", "durable": "yes"}]})", "queues[0]: 'durable' must be true or false"},
      {R"({"bindings": [{"source": "amq.direct", "destination": "nowhere", "routing_key": "k"}]})",
       "amq.direct -> nowhere: NOT_FOUND - no queue 'nowhere' in vhost '/'"},
  };
  for (const auto& [contents, why] : cases) {
    const fs::path file = d.path / "definitions.json";
    std::ofstream(file) << contents;
    auto r = run_mqlab("broker --amqp-port 0 --data-dir none --definitions " + file.string());
    EXPECT_EQ(r.exit_code, 2) << contents;
    EXPECT_NE(r.err.find("--definitions " + file.string() + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
}

TEST(broker_command, a_bad_fsync_policy_is_refused) {
  auto r = run_mqlab("broker --amqp-port 0 --data-dir none --fsync sometimes");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--fsync 'sometimes' is not an fsync policy: always, interval:MS"), std::string::npos) << r.err;
}

TEST(broker_command, a_prioritized_destination_must_name_a_queue_or_topic) {
  auto r = run_mqlab("broker --stomp-port 0 --data-dir none --prioritized-messages jobs");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--prioritized-messages 'jobs': expected /queue/NAME or /topic/NAME"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mqlab
