// One replication = a Poisson source feeding one station; replications are independent
// (seeds forked by replication index) and are combined with Student-t intervals.
#include "models/station_lab.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "sim/arrivals.h"
#include "sim/random.h"

namespace mqlab::models {
namespace {

struct replication {
  double wait_mean = 0, response_mean = 0, utilization = 0, block_prob = 0;
  sim::interval wait_batches, response_batches;  // batch means within the run
  sim::histogram waits;
  std::uint64_t customers = 0;
  std::uint64_t events = 0;
};

replication run_one(const station_lab_config& cfg, const sim::random_streams& streams) {
  sim::simulator sim;
  station st(sim, cfg.station, streams.stream("service"));
  auto arrivals_rng = streams.stream("arrivals");
  auto arrivals = sim::arrival_process::poisson(cfg.arrival_rate);
  const std::uint64_t total = cfg.warmup + cfg.customers;
  const std::uint64_t batch_size = std::max<std::uint64_t>(cfg.customers / 20, 1);
  sim::batch_accumulator wait_batches(batch_size), response_batches(batch_size);
  st.on_departure([&](const job& j) {
    if (!j.measured) return;
    wait_batches.add((j.started - j.arrived).seconds());
    response_batches.add((sim.now() - j.arrived).seconds());
  });

  std::uint64_t next_id = 0;
  sim::inline_function<void()> arrive;
  arrive = [&] {
    job j{next_id, sim.now(), sim.now(), sim.now(), next_id >= cfg.warmup};
    if (next_id == cfg.warmup) st.start_measuring();
    ++next_id;
    st.arrive(j);
    if (next_id == total) {
      st.stop_measuring();
      return;
    }
    sim.at(arrivals.next(arrivals_rng), [&] { arrive(); });
  };
  sim.at(arrivals.next(arrivals_rng), [&] { arrive(); });
  sim.run();

  replication r;
  r.wait_mean = st.wait_tally().mean();
  r.response_mean = st.response_tally().mean();
  r.utilization = st.utilization();
  r.block_prob = st.offered() ? static_cast<double>(st.blocked()) / static_cast<double>(st.offered()) : 0.0;
  r.waits = st.waits();
  r.customers = st.offered();
  r.events = sim.events_fired();
  r.wait_batches = wait_batches.estimate();
  r.response_batches = response_batches.estimate();
  return r;
}

}  // namespace

station_lab_result run_station_lab(const station_lab_config& cfg, const progress_fn& progress) {
  const int reps = std::max(cfg.replications, 1);
  std::vector<replication> results(static_cast<std::size_t>(reps));
  const sim::random_streams root(cfg.seed);
  std::atomic<int> next{0}, done{0};
  std::mutex progress_mutex;
  auto worker = [&] {
    for (int i; (i = next.fetch_add(1)) < reps;) {
      results[static_cast<std::size_t>(i)] = run_one(cfg, root.fork(fmt::format("replication-{}", i)));
      const int finished = ++done;
      if (progress) {
        std::lock_guard lock(progress_mutex);
        progress(finished, reps);
      }
    }
  };
  const unsigned threads = std::min<unsigned>(static_cast<unsigned>(reps), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::jthread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  pool.clear();

  station_lab_result out;
  std::vector<double> waits, responses, utils, blocks;
  for (const auto& r : results) {
    waits.push_back(r.wait_mean);
    responses.push_back(r.response_mean);
    utils.push_back(r.utilization);
    blocks.push_back(r.block_prob);
    out.waits.merge(r.waits);
    out.customers += r.customers;
    out.events += r.events;
  }
  if (reps == 1) {
    // One run: the interval comes from batch means, centred on the run's exact mean.
    out.wait_mean = {results[0].wait_mean, results[0].wait_batches.half_width};
    out.response_mean = {results[0].response_mean, results[0].response_batches.half_width};
  } else {
    out.wait_mean = sim::confidence_interval(waits);
    out.response_mean = sim::confidence_interval(responses);
  }
  out.utilization = sim::confidence_interval(utils);
  out.block_prob = sim::confidence_interval(blocks);
  out.theory = exact_theory(cfg.arrival_rate, cfg.station.service, cfg.station.servers, cfg.station.capacity);
  return out;
}

}  // namespace mqlab::models
