// /proc/PID/stat: "PID (COMM) STATE ...", where COMM may hold spaces and parentheses, so the
// fields are counted from the last ')'; utime and stime are the 14th and 15th fields. Wake-ups
// are timed on the steady clock around sleep_until.
#include "workbench/process_cpu.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include "models/precise_sleeps.h"
#include "net/tcp.h"

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

std::expected<double, std::string> process_resident_bytes(int pid) {
  std::ifstream in(fmt::format("/proc/{}/statm", pid));
  unsigned long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return std::unexpected(fmt::format("no process {} on this machine", pid));
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

namespace {

double clock_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

double thread_cpu_seconds() { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

double broker_cpu_meter::read() const {
  double sum = 0;
  for (int pid : pids_) sum += process_cpu_seconds(pid).value_or(0);
  return sum;
}

double broker_cpu_meter::resident() const {
  double sum = 0;
  for (int pid : pids_) sum += process_resident_bytes(pid).value_or(0);
  return sum;
}

double fresh_memory_cpu(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED || bytes == 0) return 0;
  auto* p = static_cast<volatile char*>(mapped);
  auto touch = [&](char value) {
    const double from = thread_cpu_seconds();
    for (std::size_t i = 0; i < bytes; i += page) p[i] = value;
    return thread_cpu_seconds() - from;
  };
  const double first = touch(1), again = touch(2);
  munmap(mapped, bytes);
  return std::max(0.0, first - again) / static_cast<double>(bytes);
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

std::vector<double> running_stalls(double seconds, double longer_than) {
  using clock = std::chrono::steady_clock;
  const auto gap = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(longer_than));
  std::vector<double> stalls;
  auto last = clock::now();
  const auto end = last + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
  while (last < end) {
    const auto now = clock::now();
    if (now - last > gap) stalls.push_back(std::chrono::duration<double>(now - last).count());
    last = now;
  }
  return stalls;
}

namespace {

/// `n` exchanges of a byte on `s`, writing first or reading first; the thread's CPU seconds, or
/// nothing once the socket fails (the other side gone). Closes `s` when done, so that the other
/// side's read ends too.
std::optional<double> exchange_bytes(boost::asio::ip::tcp::socket& s, int n, bool writes_first) {
  namespace asio = boost::asio;
  const double from = thread_cpu_seconds();
  char byte = 'w';
  boost::system::error_code ec;
  for (int i = 0; i < n && !ec; ++i) {
    if (writes_first) asio::write(s, asio::buffer(&byte, 1), ec);
    if (!ec) asio::read(s, asio::buffer(&byte, 1), ec);
    if (!writes_first && !ec) asio::write(s, asio::buffer(&byte, 1), ec);
  }
  const double cpu = thread_cpu_seconds() - from;
  const bool failed = static_cast<bool>(ec);
  s.close(ec);
  return failed ? std::nullopt : std::optional<double>(cpu);
}

}  // namespace

std::expected<double, std::string> wake_up_cpu(int round_trips) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  asio::io_context io;
  auto acceptor = net::open_listener(io, "127.0.0.1", 0);
  if (!acceptor) return std::unexpected(fmt::format("loopback wake-up probe: {}", acceptor.error()));
  tcp::socket asking(io), answering(io);
  boost::system::error_code ec;
  asking.connect((*acceptor)->local_endpoint(), ec);
  if (!ec) (*acceptor)->accept(answering, ec);
  if (!ec) asking.set_option(tcp::no_delay(true), ec);
  if (!ec) answering.set_option(tcp::no_delay(true), ec);
  if (ec) return std::unexpected(fmt::format("loopback wake-up probe: {}", ec.message()));
  // Every read blocks until the other thread writes, so each byte wakes a sleeping thread.
  std::optional<double> answering_cpu;
  std::thread other([&] { answering_cpu = exchange_bytes(answering, round_trips, false); });
  const std::optional<double> asking_cpu = exchange_bytes(asking, round_trips, true);
  other.join();
  if (!asking_cpu || !answering_cpu) return std::unexpected("loopback wake-up probe: the connection failed");
  return (*asking_cpu + *answering_cpu) / (2.0 * std::max(round_trips, 1));
}

}  // namespace mqlab::workbench
