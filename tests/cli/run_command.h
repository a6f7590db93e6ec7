// Runs the mqlab binary as a user would and captures its exit code and output.
#pragma once

#include <string>

namespace mqlab::testing_support {

struct command_result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `launcher MQLAB_BINARY args` through /bin/sh (launcher: e.g. "mpirun -n 2", or none);
/// `args` is shell-quoted by the caller.
command_result run_mqlab(const std::string& args, const std::string& launcher = "");

/// Writes `text` to `name` in the test's temporary directory; returns its path.
std::string write_file(const std::string& name, const std::string& text);

}  // namespace mqlab::testing_support
