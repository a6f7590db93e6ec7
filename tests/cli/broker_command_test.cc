// `mqlab broker` refuses what RabbitMQ refuses before it listens: a cluster secret file others
// can read (RabbitMQ's rule for the Erlang cookie), a malformed permission or memory watermark,
// and names the flag with exit code 2.
#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace mqlab
