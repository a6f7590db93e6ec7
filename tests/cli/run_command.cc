// popen-based runner: stderr goes to a temporary file so both streams are captured; scenario
// files for it.
#include "run_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace mqlab::testing_support {

command_result run_mqlab(const std::string& args, const std::string& launcher) {
  // ctest runs cases in parallel processes: the file name must be unique per process and call.
  static int calls = 0;
  const std::string err_path =
      ::testing::TempDir() + "/mqlab-stderr-" + std::to_string(getpid()) + "-" + std::to_string(++calls) + ".txt";
  const std::string cmd = launcher + " " + MQLAB_BINARY + " " + args + " 2>" + err_path;
  command_result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  r.err = ss.str();
  std::remove(err_path.c_str());
  return r;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace mqlab::testing_support
