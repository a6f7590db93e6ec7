// Resources as small queueing stations on the simulator's clock. Completion order is what the
// real thing would give: FIFO per pool queue, per process and per link direction.
#include "models/resources.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

namespace mqlab::models {

namespace {

sim::duration scaled(sim::duration d, double factor) {
  return factor == 1.0 ? d : sim::duration(static_cast<std::int64_t>(std::llround(static_cast<double>(d.ns()) * factor)));
}

sim::duration transmission(std::uint64_t bytes, double bandwidth) {
  return bandwidth <= 0 ? sim::duration{} : sim::duration::from_seconds(static_cast<double>(bytes) / bandwidth);
}

}  // namespace

// --- cpu_pool ----------------------------------------------------------------------------------

cpu_pool::cpu_pool(sim::simulator& sim, int cores, cpu_pool* host, sim::duration wake_up)
    : sim_(sim), cores_(std::max(cores, 1)), host_(host), wake_up_(wake_up) {}

void cpu_pool::submit(sim::duration work, done_fn done, bool awake, serial_process* batch) {
  if (busy_ < cores_ && sim_.now() >= paused_until_) {
    start({finishing_ || awake ? work : work + wake_up_, std::move(done), batch});
  } else {
    waiting_.push_back({work, std::move(done), batch});
  }
}

void cpu_pool::start(job j) {
  ++busy_;
  if (j.batch) j.work = j.work + j.batch->take_batch();
  const sim::duration took = scaled(j.work, factor_);
  busy_time_.add(took);
  if (host_ == nullptr) {
    sim_.after(took, [this, done = std::move(j.done)]() mutable { finish(done); });
    return;
  }
  host_->submit(took, [this, slot = on_host_.acquire(std::move(j.done))] {
    done_fn done = on_host_.take(slot);
    finish(done);
  });
}

void cpu_pool::finish(done_fn& done) {
  if (sim_.now() < paused_until_) {
    // A stopped process finishes nothing: the job completes when it runs again.
    sim_.at(paused_until_, [this, d = std::move(done)]() mutable { finish(d); });
    return;
  }
  --busy_;
  const bool nested = std::exchange(finishing_, true);
  done();
  while (busy_ < cores_ && !waiting_.empty() && sim_.now() >= paused_until_) {
    job next = std::move(waiting_.front());
    waiting_.pop_front();
    start(std::move(next));
  }
  finishing_ = nested;
}

void cpu_pool::pause_until(sim::sim_time until) {
  paused_until_ = std::max(paused_until_, until);
  sim_.at(paused_until_, [this] {
    while (busy_ < cores_ && !waiting_.empty() && sim_.now() >= paused_until_) {
      job next = std::move(waiting_.front());
      waiting_.pop_front();
      start(std::move(next));
    }
  });
}

double busy_meter::utilization(sim::sim_time now, int servers) const {
  const double elapsed = (now - from_).seconds() * servers;
  return elapsed > 0 ? std::min(1.0, busy_.seconds() / elapsed) : 0.0;
}

void cpu_pool::start_measuring() { busy_time_.start(sim_.now()); }

double cpu_pool::utilization() const { return busy_time_.utilization(sim_.now(), cores_); }

// --- client_host ----------------------------------------------------------------------------------

client_host::client_host(sim::simulator& sim, const client_host_config& config, sim::rng rng, cpu_pool* host)
    : sim_(sim), cpu_(sim, std::max(config.cores, 1), host, config.wake_up), socket_call_(config.socket_call),
      wake_(config.wake), stall_(config.stall), rng_(rng) {
  if (config.stalls_per_second > 0 && stall_) {
    between_stalls_ = sim::distribution::exponential(1 / config.stalls_per_second);
    schedule_stall();
  }
}

void client_host::schedule_stall() {
  sim_.after(sim::duration::from_seconds(between_stalls_->sample(rng_)), [this] {
    cpu_.pause_until(sim_.now() + sim::duration::from_seconds(stall_->sample(rng_)));
    schedule_stall();
  });
}

void client_host::run(sim::duration work, bool scheduled, done_fn done) {
  const bool asleep = wake_ && in_flight_ == 0 && idle_since_ < sim_.now();
  if (waking_ || (scheduled && asleep)) {
    waking_jobs_.push_back({work, std::move(done)});
    if (!waking_) {
      waking_ = true;
      cpu_.submit(sim::duration::from_seconds(wake_->sample(rng_)), [this] { woken(); }, true);
    }
    return;
  }
  start(work, std::move(done));
}

void client_host::woken() {
  waking_ = false;
  while (!waking_jobs_.empty()) {
    job j = std::move(waking_jobs_.front());
    waking_jobs_.pop_front();
    start(j.work, std::move(j.done));
  }
}

void client_host::start(sim::duration work, done_fn done) { cpu_.submit(work, in_flight(std::move(done))); }

done_fn client_host::in_flight(done_fn done) {
  ++in_flight_;
  return [this, done = std::move(done)]() mutable {
    if (--in_flight_ == 0) idle_since_ = sim_.now();
    done();
  };
}

serial_process& client_host::socket(int connection, int direction) {
  const auto i = 2 * static_cast<std::size_t>(connection) + static_cast<std::size_t>(direction);
  if (sockets_.size() <= i) sockets_.resize(i + 1);
  if (!sockets_[i]) sockets_[i] = std::make_unique<serial_process>(cpu_, socket_call_);
  return *sockets_[i];
}

void client_host::receive(int connection, sim::duration work, done_fn done) {
  if (socket_call_ == sim::duration{}) return run(work, false, std::move(done));
  socket(connection, 0).submit(work, in_flight(std::move(done)), true);
}

void client_host::write(int connection, done_fn done) {
  if (socket_call_ == sim::duration{}) return done();
  socket(connection, 1).submit(sim::duration{}, in_flight(std::move(done)), true);
}

// --- serial_process --------------------------------------------------------------------------------

void serial_process::submit(sim::duration work, done_fn done, bool received) {
  waiting_.push_back({work, std::move(done), received});
  if (!running_) run_next();
}

void serial_process::run_next() {
  if (waiting_.empty()) {
    running_ = false;
    return;
  }
  running_ = true;
  if (read_ > sim::duration{}) {
    // Submitted once this instant is over, so that all that arrives at it is read together.
    pool_->simulator().after(sim::duration{}, [this, awake = pool_->in_job()] {
      pool_->submit(sim::duration{}, [this] { batch_done(); }, awake, this);
    });
    return;
  }
  job j = std::move(waiting_.front());
  waiting_.pop_front();
  pool_->submit(j.work, [this, done = std::move(j.done)]() mutable {
    done();
    run_next();
  });
}

sim::duration serial_process::take_batch() {
  batch_ = waiting_.size();
  sim::duration work;
  bool received = false;
  for (const job& j : waiting_) {
    work = work + j.work;
    received = received || j.received;
  }
  return received ? work + read_ : work;
}

void serial_process::batch_done() {
  // What a job's `done` submits here queues behind the batch and waits for the next read.
  for (; batch_ > 0; --batch_) {
    job j = std::move(waiting_.front());
    waiting_.pop_front();
    j.done();
  }
  run_next();
}

// --- disk ------------------------------------------------------------------------------------------

disk::disk(sim::simulator& sim, disk_config config, sim::rng rng) : sim_(sim), config_(std::move(config)), rng_(rng) {}

void disk::write(std::uint64_t bytes, bool sync, done_fn done) {
  write_free_ = std::max(write_free_, sim_.now()) + transmission(bytes, config_.write_bandwidth);
  if (!sync) {
    const sim::sim_time cached = write_free_ - transmission(config_.dirty_limit, config_.write_bandwidth);
    if (cached <= sim_.now()) done();
    else sim_.at(cached, std::move(done));
    return;
  }
  sim_.at(write_free_, [this, d = std::move(done)]() mutable {
    unsynced_.push_back(std::move(d));
    if (!syncing_) start_fsync();
  });
}

void disk::start_fsync() {
  syncing_ = true;
  ++fsyncs_;
  auto covered = std::make_shared<std::vector<done_fn>>();
  if (config_.group_commit) {
    covered->swap(unsynced_);
  } else {
    covered->push_back(std::move(unsynced_.front()));
    unsynced_.erase(unsynced_.begin());
  }
  const sim::duration length = sim::duration::from_seconds(config_.fsync.sample(rng_));
  sync_time_.add(length);
  sim_.after(length, [this, covered] {
    for (auto& d : *covered) d();
    syncing_ = false;
    if (!unsynced_.empty()) start_fsync();  // the writes that came in meanwhile share the next one
  });
}

// --- link ------------------------------------------------------------------------------------------

link::link(sim::simulator& sim, link_config config, sim::rng rng) : sim_(sim), config_(std::move(config)), rng_(rng) {}

sim::sim_time link::transmit(std::uint64_t bytes, sim::sim_time ready) {
  transmit_free_ = std::max({transmit_free_, sim_.now(), ready}) + transmission(bytes, config_.bandwidth);
  return transmit_free_;
}

void link::send(std::uint64_t bytes, done_fn done, sim::sim_time ready) {
  // The bytes stream in from upstream (a NIC) until `ready`: the link carries them as they come
  // (packet by packet), so it finishes at its own pace or when the last byte comes, whichever
  // is later, not after the two one after the other.
  transmit_free_ = std::max(std::max(transmit_free_, sim_.now()) + transmission(bytes, config_.bandwidth), ready);
  const sim::sim_time sent = transmit_free_;
  const sim::duration latency = sim::duration::from_seconds(config_.latency.sample(rng_));
  last_arrival_ = std::max(last_arrival_, sent + latency);
  sim_.at(last_arrival_, std::move(done));
}

}  // namespace mqlab::models
