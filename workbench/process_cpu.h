// The CPU time a process on this machine has used, from /proc/PID/stat: calibration reads it of
// a broker whose pid it was given, so that a probe prices the broker's work even when the
// prober, not the broker, set the pace.
#pragma once

#include <expected>
#include <optional>
#include <string>

namespace mqlab::workbench {

/// User plus system CPU seconds of process `pid` so far (to the clock tick, 10 ms here).
std::expected<double, std::string> process_cpu_seconds(int pid);

/// CPU seconds of the broker's process, if its pid is known: the reading at two checkpoints.
class broker_cpu_meter {
 public:
  explicit broker_cpu_meter(std::optional<int> pid) : pid_(pid) {}
  /// Reads the clock now; returns what it read, or 0 without a pid or once the process is gone.
  double read() const;

 private:
  std::optional<int> pid_;
};

}  // namespace mqlab::workbench
