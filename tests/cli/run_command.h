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

/// `mqlab ARGS` running in the background (a broker a test talks to), stopped by its PID with
/// SIGTERM when the object goes.
class background_mqlab {
 public:
  explicit background_mqlab(const std::string& args);
  ~background_mqlab();
  background_mqlab(const background_mqlab&) = delete;
  background_mqlab& operator=(const background_mqlab&) = delete;
  /// Reads its output (stdout and stderr) until a line contains `text`, for at most
  /// `seconds`; returns that line, or "" if it did not come.
  std::string wait_for(const std::string& text, int seconds);
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int out_ = -1;
  std::string pending_;
};

/// Writes `text` to `name` in the test's temporary directory; returns its path.
std::string write_file(const std::string& name, const std::string& text);

}  // namespace mqlab::testing_support
