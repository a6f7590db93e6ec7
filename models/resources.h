// The resources a simulated broker's work waits for (SPEC §4.1): a node's CPU (c identical
// cores, one FIFO queue), a serialising process that runs one job at a time on one of its
// node's cores (a RabbitMQ queue or channel, a Kafka partition leader), a disk (write
// bandwidth, fsync latency, group commit: one fsync covers every write waiting for it) and a
// link (ns-3's shape: a FIFO transmission queue, S/B of serialisation, then propagation delay;
// one link per direction). Each takes a job and calls its `done` at the virtual time it ends.
// A connection's socket calls are serial processes whose jobs are what each call takes in.
// Faults change them while they run: a slowed CPU, a paused process, a degraded link.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "models/slot_pool.h"
#include "sim/distribution.h"
#include "sim/inline_function.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

/// Small enough that an event capturing it and a pointer stays inline (no allocation).
using done_fn = sim::inline_function<void(), 32>;

class serial_process;

/// Busy time of `servers` identical servers since a start: their utilisation.
class busy_meter {
 public:
  void start(sim::sim_time now) {
    busy_ = sim::duration{};
    from_ = now;
  }
  void add(sim::duration busy) { busy_ = busy_ + busy; }
  double utilization(sim::sim_time now, int servers) const;

 private:
  sim::duration busy_;
  sim::sim_time from_;
};

/// `cores` identical servers in front of one FIFO queue: an M/M/c station when the work is
/// exponential. On a `host` (several nodes on one machine) a started job also needs one of the
/// host's cores: the node's thread holds its core while it waits to be scheduled. A job that
/// finds its core's thread asleep (not busy, nor finishing a job) first pays `wake_up` of work:
/// the kernel waking a thread blocked in epoll_wait, 5 us of CPU on the VM the profiles were
/// calibrated on. Under load threads rarely sleep, so a message costs less the busier the node
/// (an M/G/c queue with exceptional first service, Welch 1964). The simulator and the host
/// must outlive it.
class cpu_pool {
 public:
  cpu_pool(sim::simulator& sim, int cores, cpu_pool* host = nullptr, sim::duration wake_up = {});

  /// Runs `work` (at speed 1) on the first free core, then calls `done`. O(1). `awake`: the
  /// submitting thread woke on its own (from a timed sleep), so no wake_up. `batch`: a serial
  /// process that adds the work of what it holds when the job starts (a socket read).
  void submit(sim::duration work, done_fn done, bool awake = false, serial_process* batch = nullptr);
  /// Work takes `factor` times longer from now on (a slowed node); 1 restores it.
  void slow(double factor) { factor_ = factor; }
  /// Nothing starts or finishes until `until` (a stopped process: SIGSTOP, a GC pause).
  void pause_until(sim::sim_time until);
  int cores() const { return cores_; }
  sim::simulator& simulator() const { return sim_; }
  /// A core's thread is in a job's `done`: what it submits now finds it awake.
  bool in_job() const { return finishing_; }
  /// Busy core-time over elapsed time and cores since start_measuring().
  double utilization() const;
  void start_measuring();
  std::size_t waiting() const { return waiting_.size(); }

 private:
  struct job {
    sim::duration work;
    done_fn done;
    serial_process* batch = nullptr;
  };
  void start(job j);
  void finish(done_fn& done);

  sim::simulator& sim_;
  int cores_;
  cpu_pool* host_;
  sim::duration wake_up_;
  slot_pool<done_fn> on_host_;  // jobs started here, on the host's cores or waiting for one
  int busy_ = 0;
  bool finishing_ = false;  // a core's thread is in a job's `done`: what it submits finds it awake
  double factor_ = 1.0;
  sim::sim_time paused_until_;
  std::deque<job> waiting_;
  busy_meter busy_time_;
};

/// One job at a time, each on a core of `pool`: a process that can never use more than one
/// core, however many its node has (RabbitMQ runs each queue as one Erlang process).
///
/// With a `read` cost it is a client connection's: what the client sent is taken in by socket
/// reads, each of which takes everything that has arrived since the last one began. Jobs that
/// arrive while a read waits for a core join it; it costs `read` once plus their work, and they
/// complete together when it ends (the server writes what they produced after handling the
/// read). The read's cost is paid only when one of its jobs was `received` from the socket.
/// What arrives at one instant (a write's worth of messages) is one read's. A client's writes
/// are the same shape: what it prepared while a write waited for a core goes with that write.
class serial_process {
 public:
  /// `pool` must outlive the process.
  explicit serial_process(cpu_pool& pool, sim::duration read = {}) : pool_(&pool), read_(read) {}
  void submit(sim::duration work, done_fn done, bool received = false);
  std::size_t waiting() const { return waiting_.size(); }

 private:
  friend class cpu_pool;
  struct job {
    sim::duration work;
    done_fn done;
    bool received = false;
  };
  void run_next();
  /// The work of the read starting now: it takes every job waiting.
  sim::duration take_batch();
  void batch_done();

  cpu_pool* pool_;
  sim::duration read_;
  std::deque<job> waiting_;
  std::size_t batch_ = 0;  // jobs at the front of waiting_ that the running read took
  bool running_ = false;
};

/// What the scenario's clients run on: `cores` threads, what a message sent or received costs
/// them, and how long an idle thread takes to wake for work it scheduled itself.
struct client_host_config {
  int cores = 0;  // 0: the clients cost nothing and never wait (no host)
  sim::duration send, receive;            // per message sent (publish, ack, produce) and received
  sim::duration wake_up;                  // CPU of a wake-up by something received (cpu_pool)
  // Kafka's clients batch: their CPU per record (half where it is produced, half where it is
  // consumed) and per request on top (a produce request, a fetch's answer), instead of the above.
  sim::duration kafka_record, kafka_request;
  std::optional<sim::distribution> wake;  // seconds; none: it never sleeps
  // A read or write system call on a client's connection: each takes everything that waited for
  // it (deliveries that arrived, messages prepared to send). 0: calls cost nothing, none waits.
  sim::duration socket_call;
  // The machine's stalls (jHiccup's hiccups: a descheduled thread, a hypervisor's pause): they
  // come so many times a second whatever the host does, each stopping it for a while.
  double stalls_per_second = 0;
  std::optional<sim::distribution> stall;  // seconds
};

/// The host of a broker's clients: a CPU pool whose threads sleep when idle. Work a client
/// starts on its own (a publish at its scheduled time) finds a host that has been idle since
/// before now asleep, and waits for it to wake from its timed sleep, holding a core meanwhile
/// (on the VM the profiles were calibrated on a 50 us sleep overshoots by 25 us and costs
/// 23 us of CPU); work caused by something received pays the event wake-up of its cpu_pool.
/// Work arriving meanwhile waits for the same wake-up: an M/G/c queue with setup times
/// (Welch 1964). Stalls stop it at random times.
class client_host {
 public:
  client_host(sim::simulator& sim, const client_host_config& config, sim::rng rng, cpu_pool* host = nullptr);
  /// Runs `work`, then `done`; `scheduled`: the client started it on its own.
  void run(sim::duration work, bool scheduled, done_fn done);
  /// Runs `work` for a message that client `connection` received: its socket read takes in
  /// everything that arrived while it waited for a core (see serial_process).
  void receive(int connection, sim::duration work, done_fn done);
  /// Client `connection` writes a message it has prepared, then `done`: its socket write takes
  /// everything prepared while it waited for a core.
  void write(int connection, done_fn done);
  double utilization() const { return cpu_.utilization(); }
  void start_measuring() { cpu_.start_measuring(); }

 private:
  struct job {
    sim::duration work;
    done_fn done;
  };
  void start(sim::duration work, done_fn done);
  void woken();
  void schedule_stall();
  /// Connection `connection`'s reads (0) or writes (1), made on first use.
  serial_process& socket(int connection, int direction);
  /// Counts `done` as work in flight until it runs (the host is not asleep meanwhile).
  done_fn in_flight(done_fn done);

  sim::simulator& sim_;
  cpu_pool cpu_;
  sim::duration socket_call_;
  std::vector<std::unique_ptr<serial_process>> sockets_;  // [2 * connection + direction]
  std::optional<sim::distribution> wake_, stall_, between_stalls_;
  sim::rng rng_;
  int in_flight_ = 0;           // started, not done
  sim::sim_time idle_since_{};  // when in_flight_ last fell to 0
  bool waking_ = false;
  std::deque<job> waking_jobs_;  // arrived while it wakes
};

struct disk_config {
  double write_bandwidth = 500e6;  // bytes per second
  sim::distribution fsync = sim::distribution::constant(0.002);  // seconds per fsync
  bool group_commit = true;  // false: every synced write waits for an fsync of its own
  // Unsynced writes land in the page cache and return at once while at most this many bytes
  // wait for the disk; past it the writer waits (Linux's dirty-page throttling, vm.dirty_bytes).
  std::uint64_t dirty_limit = std::uint64_t{1} << 30;
};

/// A disk written in FIFO order at `write_bandwidth`; a synced write also waits for an fsync,
/// and one fsync covers every write done by the time it starts (group commit), or with
/// group commit off only the oldest one. An unsynced write goes through the page cache: it is
/// done at once unless more than `dirty_limit` bytes are still waiting to reach the disk.
class disk {
 public:
  disk(sim::simulator& sim, disk_config config, sim::rng rng);
  /// Writes `bytes`; with `sync`, `done` runs once they are written and an fsync covered them;
  /// without, once the page cache took them (at once, from inside this call, below the dirty limit).
  void write(std::uint64_t bytes, bool sync, done_fn done);
  std::uint64_t fsyncs() const { return fsyncs_; }
  /// The share of the time since start_measuring() that an fsync was running.
  double sync_utilization() const { return sync_time_.utilization(sim_.now(), 1); }
  void start_measuring() { sync_time_.start(sim_.now()); }

 private:
  void start_fsync();

  sim::simulator& sim_;
  disk_config config_;
  sim::rng rng_;
  sim::sim_time write_free_;          // when the write queue drains
  std::vector<done_fn> unsynced_;     // written, waiting for the next fsync
  bool syncing_ = false;
  std::uint64_t fsyncs_ = 0;
  busy_meter sync_time_;
};

struct link_config {
  sim::distribution latency = sim::distribution::constant(0.0001);  // seconds, one way
  double bandwidth = 1.25e9;  // bytes per second (10 Gbit/s)
};

/// One direction of a link: a FIFO transmission queue (S/B each), then the propagation delay.
/// Messages arrive in the order they were sent, whatever the latency samples.
class link {
 public:
  link(sim::simulator& sim, link_config config, sim::rng rng);
  /// Sends `bytes` that an upstream stage (a NIC) hands over until `ready`, carrying them as
  /// they come; `done` runs when they have arrived at the other end.
  void send(std::uint64_t bytes, done_fn done, sim::sim_time ready = {});
  /// Takes the transmitter for `bytes` without a delivery: when they will have left. A node's
  /// NIC is a link used this way, in front of the links it feeds.
  sim::sim_time transmit(std::uint64_t bytes, sim::sim_time ready = {});
  /// From now on the link has this latency and bandwidth (Trogdor's DegradedNetwork).
  void degrade(const std::optional<sim::distribution>& latency, std::optional<double> bandwidth) {
    if (latency) config_.latency = *latency;
    if (bandwidth) config_.bandwidth = *bandwidth;
  }

 private:
  sim::simulator& sim_;
  link_config config_;
  sim::rng rng_;
  sim::sim_time transmit_free_, last_arrival_;
};

}  // namespace mqlab::models
