// A directory of the test's own under the system's temporary directory, named after the test
// and the process, empty at the start and removed at the end.
#pragma once

#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace mqlab::net::testing {

struct temp_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               fmt::format("mqlab-{}-{}-{}", ::testing::UnitTest::GetInstance()->current_test_suite()->name(),
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
  temp_dir() { std::filesystem::remove_all(path); }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

}  // namespace mqlab::net::testing
