// What calibration reads of this machine rather than of a broker: the CPU time the prober and
// a process have used, the latter from /proc/PID/stat (a broker whose pid it was given, so that a probe prices the
// broker's work even when the prober, not the broker, set the pace) and its resident memory,
// how late a sleeping thread wakes and what waking it costs, what a first touch of memory costs.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace mqlab::workbench {

/// CPU seconds the calling thread has used (the whole process's: models::process_cpu_seconds).
double thread_cpu_seconds();

/// User plus system CPU seconds of process `pid` so far (to the clock tick, 10 ms here).
std::expected<double, std::string> process_cpu_seconds(int pid);
/// Resident bytes of process `pid` now (/proc/PID/statm).
std::expected<double, std::string> process_resident_bytes(int pid);

/// CPU seconds of the broker's process, if its pid is known: the reading at two checkpoints.
class broker_cpu_meter {
 public:
  /// `pids`: the broker's processes (a cluster's nodes may be several), or none.
  explicit broker_cpu_meter(std::vector<int> pids = {}) : pids_(std::move(pids)) {}
  /// Reads their clocks now; returns the sum of what it read (a process that is gone: 0).
  double read() const;
  /// Their resident bytes now, summed (a process that is gone: 0).
  double resident() const;

 private:
  std::vector<int> pids_;
};

/// How late a thread wakes from `n` sleeps of `asked` microseconds, each overshoot in seconds,
/// with the timer slack net mode's paced loop sleeps with (1 ns): the wake-up latency of a
/// client that sleeps until its next scheduled send.
std::vector<double> wake_latencies(int n, int asked_us = 50);

constexpr double stall_gap = 20e-6;  // seconds: a gap between two clock reads longer than this is a stall

/// The times a running thread was stopped (the hypervisor or the kernel took its core), in
/// seconds: it reads the clock for `seconds` without sleeping, and each gap between two reads
/// longer than `longer_than` is one. What stops a busy client, which a sleep cannot tell from
/// its own wake-up (a sleeping virtual CPU is the one a hypervisor deschedules).
std::vector<double> running_stalls(double seconds, double longer_than = stall_gap);

/// The CPU a thread blocked on a loopback TCP socket spends each time a byte wakes it and it
/// answers (the kernel's wake-up, the read and the write), in seconds: `round_trips` exchanges
/// between two threads of this process, on 127.0.0.1 and a port the system picks. What a
/// broker's or a client's thread pays for work that finds it asleep.
std::expected<double, std::string> wake_up_cpu(int round_trips);

/// The CPU a thread spends on its first write to each page of fresh memory (the kernel maps in
/// a zeroed page; in a virtual machine the hypervisor may have to back it too), in seconds per
/// byte: `bytes` mapped anonymously and written a byte a page, less a second pass over them.
/// What a broker pays for each byte by which it holds more than it ever held.
double fresh_memory_cpu(std::size_t bytes);

}  // namespace mqlab::workbench
