// /proc/PID/stat: "PID (COMM) STATE ...", where COMM may hold spaces and parentheses, so the
// fields are counted from the last ')'; utime and stime are the 14th and 15th fields. Wake-ups
// are timed on the steady clock around sleep_until.
#include "workbench/process_cpu.h"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "models/precise_sleeps.h"

namespace mqlab::workbench {

std::expected<double, std::string> process_cpu_seconds(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return std::unexpected(fmt::format("no process {} on this machine", pid));
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::unexpected(fmt::format("/proc/{}/stat: no command name", pid));
  std::istringstream fields(line.substr(close + 1));
  std::string skipped;
  for (int i = 0; i < 11; ++i) fields >> skipped;  // state (3rd field) to cmajflt (13th)
  unsigned long long user = 0, system = 0;
  if (!(fields >> user >> system)) return std::unexpected(fmt::format("/proc/{}/stat: no CPU times", pid));
  return static_cast<double>(user + system) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

double clock_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

double thread_cpu_seconds() { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

double own_cpu_seconds() { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

double broker_cpu_meter::read() const {
  if (!pid_) return 0;
  return process_cpu_seconds(*pid_).value_or(0);
}

std::vector<double> wake_latencies(int n, int asked_us) {
  const models::precise_sleeps precise;
  std::vector<double> late;
  for (int i = 0; i < n; ++i) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(asked_us);
    std::this_thread::sleep_until(until);
    late.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - until).count());
  }
  return late;
}

}  // namespace mqlab::workbench
