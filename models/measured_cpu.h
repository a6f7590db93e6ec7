// Net mode's CPU, measured: the busy cores of the process and of the server threads over the
// measured window, reported under the simulation's names (host.cpu, servers.cpu, node.N.cpu) so
// that a prediction and a measurement of the same scenario compare line by line.
#pragma once

#include <chrono>
#include <span>
#include <vector>

namespace mqlab::models {

/// CPU seconds the whole process has used so far, every thread's.
double process_cpu_seconds();

/// A set of CPU clocks (a process, a thread each) read at the window's start.
class cpu_window {
 public:
  /// `cpu_seconds`: each clock's CPU seconds so far.
  void start(std::vector<double> cpu_seconds);
  bool started() const { return !at_start_.empty(); }
  /// Each clock's busy cores since start(): the CPU seconds it added over the wall seconds passed.
  std::vector<double> cores(std::span<const double> cpu_seconds) const;

 private:
  std::vector<double> at_start_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace mqlab::models
