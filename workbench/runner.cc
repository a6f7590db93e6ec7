// Replications of all variants share one pool of threads; results are placed by index, so the
// output does not depend on the thread count or finishing order.
#include "workbench/runner.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "models/system_model.h"
#include "workbench/net_amqp.h"
#include "workbench/net_jms.h"
#include "workbench/net_kafka.h"
#include "workbench/number.h"
#include "sim/random.h"
#include "sim/statistics.h"

namespace mqlab::workbench {

bool run_result::all_passed() const {
  return std::all_of(expectations.begin(), expectations.end(), [](const expectation_result& e) { return e.passed; });
}

namespace {

/// What the process holds in memory now (resident set), from /proc/self/statm.
std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

variant_result combine(const variant& v, std::vector<models::run_metrics>& reps) {
  variant_result out;
  out.name = v.name;
  out.sample_interval_seconds = v.system.sample_interval.seconds();
  std::map<std::string, std::vector<double>> samples;
  for (auto& r : reps) {
    for (const auto& [k, x] : r.values) samples[k].push_back(x);
    out.response.merge(r.response);
    out.e2e.merge(r.e2e);
    out.events += r.events;
    if (out.stopped.empty()) out.stopped = r.stopped;
  }
  for (const auto& [k, xs] : samples) {
    const auto ci = sim::confidence_interval(xs);
    out.metrics[k] = {ci.mean, ci.half_width};
  }
  // Latency percentiles over all replications' samples are better estimates than averaged ones.
  for (auto [prefix, h] : {std::pair{"response", &out.response}, std::pair{"e2e", &out.e2e}}) {
    if (h->count() == 0) continue;
    for (auto [name, p] : {std::pair{"p50", 50.0}, std::pair{"p90", 90.0}, std::pair{"p95", 95.0},
                           std::pair{"p99", 99.0}, std::pair{"p99.9", 99.9}, std::pair{"p99.99", 99.99}}) {
      out.metrics[fmt::format("{}.{}", prefix, name)].mean = h->percentile(p) * 1e-9;
    }
    out.metrics[fmt::format("{}.max", prefix)].mean = h->max() * 1e-9;
  }
  for (auto& r : reps) {
    for (auto& [k, xs] : r.series) {
      auto& acc = out.series[k];
      if (acc.size() < xs.size()) acc.resize(xs.size(), 0.0);
      for (std::size_t i = 0; i < xs.size(); ++i) acc[i] += xs[i] / static_cast<double>(reps.size());
    }
  }
  return out;
}

/// The consumer.prefetchSize option of an ActiveMQ destination ("orders?consumer.prefetchSize=0"), if given.
std::optional<std::uint32_t> destination_prefetch(const std::string& destination) {
  const auto uri = broker::jms::parse_destination_uri(destination);
  if (!uri) return std::nullopt;
  const auto it = uri->options.find("consumer.prefetchSize");
  return it == uri->options.end() ? std::nullopt : parse_number<std::uint32_t>(it->second);
}

}  // namespace

const metric_value* find_metric(const std::vector<variant_result>& variants, std::string_view name) {
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) return nullptr;
  for (const auto& v : variants) {
    if (v.name != name.substr(0, dot)) continue;
    if (auto it = v.metrics.find(std::string(name.substr(dot + 1))); it != v.metrics.end()) return &it->second;
  }
  return nullptr;
}

bool is_time_metric(std::string_view key) {
  return key.starts_with("response.") || key.starts_with("e2e.") || key.ends_with(".wait.mean");
}

expectation_result check(const expectation& e, const std::vector<variant_result>& variants) {
  expectation_result r{e, 0, false, false};
  const metric_value* found = find_metric(variants, e.metric);
  if (found == nullptr) return r;
  r.found = true;
  r.actual = found->mean;
  switch (e.op) {
    case comparison::approx: {
      const double allowed = e.tolerance_relative ? std::fabs(e.value) * e.tolerance : e.tolerance;
      r.passed = std::fabs(r.actual - e.value) <= allowed;
      break;
    }
    case comparison::at_most: r.passed = r.actual <= e.value; break;
    case comparison::at_least: r.passed = r.actual >= e.value; break;
    case comparison::equals: r.passed = r.actual == e.value; break;
  }
  return r;
}

variant_result summarize(const variant& v, const models::run_metrics& metrics) {
  std::vector<models::run_metrics> one{metrics};
  return combine(v, one);
}

std::expected<void, std::string> net_mode_support(const scenario& sc) {
  for (const auto& v : sc.variants) {
    if (!v.system.zookeeper.groups.empty()) {
      return std::unexpected(fmt::format("variant '{}': zookeeper groups run on the simulated coordination store only; "
                                         "mqlab serves no ZooKeeper protocol (use --mode sim)",
                                         v.name));
    }
    for (const auto& c : v.system.jms.consumers) {
      // STOMP's NACK is ActiveMQ's poison ack (straight to the DLQ): no redelivery policy to show.
      if (c.failure.any()) {
        return std::unexpected(fmt::format("variant '{}': JMS consumer '{}' fails messages; over STOMP a failed message "
                                           "can only be NACKed, which ActiveMQ dead-letters at once without its redelivery "
                                           "policy (use --mode sim, or --variant to leave it out)",
                                           v.name, c.name));
      }
      // STOMP has no receive(): a prefetch-0 consumer would never get a message.
      if (c.prefetch == 0u || destination_prefetch(c.destination) == 0u) {
        return std::unexpected(fmt::format("variant '{}': JMS consumer '{}' pulls (prefetch 0); net mode's STOMP consumers "
                                           "cannot pull (use --mode sim, or --variant to leave it out)",
                                           v.name, c.name));
      }
    }
  }
  return {};
}

std::uint64_t default_memory_cap() {
  return static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) / 2;
}

run_result run_scenario(const scenario& sc, const progress_fn& progress, const std::atomic<bool>* cancel,
                        const live_fn& live, run_mode mode, std::uint64_t max_memory) {
  const std::size_t reps = static_cast<std::size_t>(std::max(sc.replications, 1));
  const std::size_t jobs = sc.variants.size() * reps;
  std::vector<models::run_metrics> raw(jobs);
  std::vector<double> done_fraction(jobs, 0.0);
  std::mutex lock;
  std::atomic<std::size_t> next{0};
  const sim::random_streams root(sc.seed);
  models::run_environment environment;
  if (max_memory != 0) {
    environment.over_budget = [max_memory]() -> std::optional<std::string> {
      const std::uint64_t rss = resident_bytes();
      if (rss <= max_memory) return std::nullopt;
      return fmt::format("the process holds {} MiB, past the memory cap of {} MiB (--max-memory)", rss >> 20, max_memory >> 20);
    };
  }
  if (mode == run_mode::net) {
    environment.real_time = true;
    environment.kafka = make_net_kafka;
    environment.amqp = make_net_amqp;
    environment.jms = make_net_jms;
  }
  auto report = [&](std::size_t job, double f) {
    if (!progress) return;
    std::lock_guard guard(lock);
    done_fraction[job] = f;
    double total = 0;
    for (double x : done_fraction) total += x;
    progress(total / static_cast<double>(jobs));
  };
  auto worker = [&] {
    for (std::size_t j; (j = next.fetch_add(1)) < jobs;) {
      // Common random numbers: replication k of every variant uses the same seed, so the
      // variants are compared on the same arrivals.
      const std::uint64_t seed = root.fork(fmt::format("replication-{}", j % reps)).seed();
      models::run_snapshot snapshot;
      if (live && j % reps == 0) {
        snapshot = [&, j](const models::run_metrics& partial) { live(j / reps, summarize(sc.variants[j / reps], partial)); };
      }
      raw[j] = models::run_system(sc.variants[j / reps].system, seed, [&, j](double f) { report(j, f); }, cancel, snapshot,
                                  environment);
    }
  };
  // Real servers and clients share the machine: one run at a time keeps them from skewing each other.
  const unsigned threads = mode == run_mode::net ? 1 : std::clamp<unsigned>(std::thread::hardware_concurrency(), 1,
                                                                             static_cast<unsigned>(jobs));
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
  }
  run_result result;
  for (std::size_t v = 0; v < sc.variants.size(); ++v) {
    std::vector<models::run_metrics> mine(std::make_move_iterator(raw.begin() + static_cast<long>(v * reps)),
                                          std::make_move_iterator(raw.begin() + static_cast<long>((v + 1) * reps)));
    result.variants.push_back(combine(sc.variants[v], mine));
  }
  for (const auto& e : sc.expect) {
    // A price that emerges from the cost model is the simulation's to check; on the real
    // network the server is the cost.
    if (e.sim_only && mode == run_mode::net) continue;
    result.expectations.push_back(check(e, result.variants));
  }
  return result;
}

}  // namespace mqlab::workbench
