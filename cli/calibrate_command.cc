// The calibrate command: flags, the probes in order, the fit, the profile file.
#include "cli/calibrate_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cli/progress.h"
#include "workbench/amqp_prober.h"
#include "workbench/calibration_profile.h"
#include "workbench/kafka_prober.h"
#include "workbench/number.h"
#include "workbench/process_cpu.h"
#include "workbench/profile.h"

namespace mqlab::cli {
namespace {

constexpr int wake_up_round_trips = 10000;  // half a second on the machine the profiles were made on

struct calibrate_options {
  std::string amqp, kafka, user = "guest:guest", vhost = "/", out, name, title, prior = "default";
  int cores = 1;
  int write_coalescing_us = 0;
  std::vector<int> broker_pids;
  double seconds = 2.0, warmup = 0.5, answer_timeout = 10;
  bool quiet = false;
};

/// HOST:PORT, the port 1-65535: the port, or why not.
std::expected<std::uint16_t, std::string> port_of(std::string_view flag, std::string_view address) {
  const auto colon = address.rfind(':');
  const auto port = colon == std::string_view::npos ? std::nullopt : workbench::parse_number<std::uint16_t>(address.substr(colon + 1));
  if (colon == 0 || !port || *port == 0) {
    return std::unexpected(fmt::format("{} {}: expected HOST:PORT, an IP address and a port 1-65535", flag, address));
  }
  return *port;
}

/// --amqp HOST:PORT[,HOST:PORT...]: a broker, or a cluster's nodes.
std::expected<workbench::amqp_endpoint, std::string> parse_endpoint(const calibrate_options& o) {
  workbench::amqp_endpoint at;
  for (std::string_view address : workbench::address_list(o.amqp)) {
    auto port = port_of("--amqp", address);
    if (!port) return std::unexpected(port.error());
    at.nodes.push_back({std::string(address.substr(0, address.rfind(':'))), *port});
  }
  const auto split = o.user.find(':');
  if (split == std::string::npos || split == 0) return std::unexpected(fmt::format("--user {}: expected USER:PASSWORD", o.user));
  at.login.user = o.user.substr(0, split);
  at.login.password = o.user.substr(split + 1);
  at.login.vhost = o.vhost;
  return at;
}

/// --kafka HOST:PORT[,HOST:PORT...]: every address checked, the list as librdkafka takes it.
std::expected<std::string, std::string> parse_bootstrap(const std::string& kafka) {
  for (std::string_view address : workbench::address_list(kafka)) {
    if (auto port = port_of("--kafka", address); !port) return std::unexpected(port.error());
  }
  return kafka;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("model name")) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string today() {
  return fmt::format("{:%Y-%m-%d}", fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
}

std::string command_line(const calibrate_options& o) {
  std::string c = "mqlab calibrate";
  if (!o.amqp.empty()) c += fmt::format(" --amqp {}", o.amqp);
  if (!o.kafka.empty()) c += fmt::format(" --kafka {}", o.kafka);
  c += fmt::format(" --out {} --cores {}", o.out, o.cores);
  if (!o.broker_pids.empty()) c += " --broker-pid PID";
  if (o.write_coalescing_us > 0) c += fmt::format(" --write-coalescing-us {}", o.write_coalescing_us);
  if (o.user != "guest:guest") c += fmt::format(" --user {}:***", o.user.substr(0, o.user.find(':')));
  if (o.vhost != "/") c += fmt::format(" --vhost {}", o.vhost);
  if (o.seconds != 2.0) c += fmt::format(" --seconds {:g}", o.seconds);
  if (o.warmup != 0.5) c += fmt::format(" --warmup {:g}", o.warmup);
  if (o.prior != "default") c += fmt::format(" --prior {}", o.prior);
  return c;
}

void print_probe(const std::string& name, double rate, const char* unit, bool quiet) {
  if (!quiet) fmt::print("  {:<24} {:>10.0f} {}/s\n", name, rate, unit);
  std::fflush(stdout);
}

/// Runs every AMQP probe and the latency series into `r`; the first failure ends it.
std::expected<void, std::string> measure_amqp(workbench::amqp_prober& prober, workbench::calibration_record& r, bool quiet) {
  const auto probes = workbench::amqp_probes(r.amqp_nodes);
  const int steps = static_cast<int>(probes.size()) + 3;
  progress_bar bar("calibrating AMQP", !quiet);
  int done = 0;
  for (const auto& p : probes) {
    bar.update(done++, steps);
    auto m = prober.saturate(p);
    if (!m) return std::unexpected(fmt::format("probe {}: {}", p.name, m.error()));
    r.probes.push_back({p, workbench::metered_work(p, r.amqp_nodes), *m});
    bar.clear();
    print_probe(p.name, m->rate(), "msg", quiet);
  }
  bar.update(done++, steps);
  auto rtt = prober.round_trips(200);
  if (!rtt) return std::unexpected(fmt::format("round trips: {}", rtt.error()));
  r.round_trips = std::move(*rtt);
  bar.update(done++, steps);
  auto transient = prober.confirm_latencies(probes.front(), 200);  // direct, transient
  if (!transient) return std::unexpected(fmt::format("confirm latency: {}", transient.error()));
  r.confirm_transient = std::move(*transient);
  bar.update(done++, steps);
  auto persistent = prober.confirm_latencies(*std::ranges::find_if(probes, &workbench::amqp_probe::persistent), 100);
  if (!persistent) return std::unexpected(fmt::format("persistent confirm latency: {}", persistent.error()));
  r.confirm_persistent = std::move(*persistent);
  bar.clear();
  return {};
}

/// Runs every Kafka probe into `r`; the first failure ends it.
std::expected<void, std::string> measure_kafka(workbench::kafka_prober& prober, int brokers, workbench::calibration_record& r,
                                               bool quiet) {
  const auto probes = workbench::kafka_probes(brokers);
  progress_bar bar("calibrating Kafka", !quiet);
  int done = 0;
  for (const auto& p : probes) {
    bar.update(done++, static_cast<int>(probes.size()));
    auto m = prober.saturate(p);
    if (!m) return std::unexpected(fmt::format("probe {}: {}", p.name, m.error()));
    r.kafka_probes.push_back({p, m->batching, workbench::metered_work(p, m->batching), m->measured});
    bar.clear();
    print_probe(p.name, m->measured.rate(), "records", quiet);
  }
  return {};
}

/// Fits one protocol's costs to its probes (each with .work and .measured).
template <typename Probes>
std::expected<workbench::fitted_costs, std::string> fit(const workbench::calibration_record& r, const Probes& probes,
                                                        const models::cost_table& prior) {
  std::vector<workbench::probe_work> work;
  std::vector<double> rates, cores;
  for (const auto& p : probes) {
    work.push_back(p.work);
    rates.push_back(p.measured.rate());
    cores.push_back(workbench::broker_cores(r, p.measured));
  }
  return workbench::fit_costs(work, rates, cores, prior);
}

std::expected<void, std::string> fit(workbench::calibration_record& r) {
  if (!r.probes.empty()) {
    auto f = fit(r, r.probes, r.prior.amqp);
    if (!f) return std::unexpected(f.error());
    r.fit = std::move(*f);
    if (auto c = workbench::fit_client_costs(r.probes)) r.clients = *c;
  }
  if (!r.kafka_probes.empty()) {
    auto f = fit(r, r.kafka_probes, r.prior.kafka);
    if (!f) return std::unexpected(f.error());
    r.kafka_fit = std::move(*f);
    if (auto c = workbench::fit_kafka_client_costs(r.kafka_probes)) r.kafka_clients = *c;
  }
  return {};
}

template <typename Probes>
void report(const workbench::calibration_record& r, const Probes& probes, const models::cost_table& costs) {
  for (const auto& p : probes) {
    const double cores = workbench::broker_cores(r, p.measured);
    const double fitted = workbench::predicted_rate(p.work, costs, cores);
    fmt::print("  {:<24} {:>12.0f} {:>12.0f} {:>7.1f}% {:>13.2f}\n", p.probe.name, p.measured.rate(), fitted,
               100 * (fitted / p.measured.rate() - 1), cores);
  }
}

void report(const workbench::calibration_record& r) {
  fmt::print("\n  {:<24} {:>12} {:>12} {:>8} {:>13}\n", "probe", "measured/s", "fitted/s", "error", "broker cores");
  report(r, r.probes, r.fit.costs);
  report(r, r.kafka_probes, r.kafka_fit.costs);
  if (r.clients) {
    fmt::print("  client: {:.0f} ns a message sent, {:.0f} ns one received, {:.0f} ns a socket call; ", r.clients->send_ns,
               r.clients->receive_ns, r.clients->socket_call_ns);
  }
  if (r.kafka_clients) {
    fmt::print("Kafka client: {:.0f} ns a record, {:.0f} ns a request; ", r.kafka_clients->record_ns, r.kafka_clients->request_ns);
  }
  if (!r.wake.empty()) fmt::print("a sleeping thread wakes {:.1f} us late (median)\n", workbench::wake_latency(r) * 1e6);
  if (r.round_trips.empty()) return;
  fmt::print("  client link latency {:.1f} us (half the median round trip less what the model prices on it); fsync wait {:.1f} us\n",
             workbench::link_latency(r) * 1e6, workbench::fsync_wait(r) * 1e6);
}

/// What a first touch of memory costs on this machine, the broker's (its pid was given): the
/// median of three runs. The Kafka probes' CPU time is then taken less their brokers' growth in
/// resident memory at that cost, which the model prices apart (memory_grown).
void measure_fresh_memory(workbench::calibration_record& r) {
  constexpr std::size_t mapped = 64 << 20;
  std::vector<double> runs;
  for (int run = 0; run < 3; ++run) runs.push_back(workbench::fresh_memory_cpu(mapped));
  std::ranges::sort(runs);
  r.fresh_memory_cpu = runs[1];
  for (auto& p : r.kafka_probes) p.measured.broker_fresh_cpu = p.measured.broker_memory_grown * runs[1];
}

/// Checks that each broker given answers, then runs its probes into `r`: the message for
/// stderr when one cannot be calibrated.
std::expected<void, std::string> measure(const calibrate_options& o, const workbench::probe_timing& timing,
                                         workbench::calibration_record& r) {
  for (int pid : o.broker_pids) {
    if (auto cpu = workbench::process_cpu_seconds(pid); !cpu) return std::unexpected(fmt::format("--broker-pid: {}", cpu.error()));
  }
  const workbench::broker_cpu_meter broker(o.broker_pids);
  std::optional<workbench::amqp_prober> amqp;
  std::optional<workbench::kafka_prober> kafka;
  if (!o.amqp.empty()) {
    auto at = parse_endpoint(o);
    if (!at) return std::unexpected(at.error());
    amqp.emplace(*at, timing, broker);
  }
  if (!o.kafka.empty()) {
    auto bootstrap = parse_bootstrap(o.kafka);
    if (!bootstrap) return std::unexpected(bootstrap.error());
    kafka.emplace(*bootstrap, timing, broker);
  }
  if (!amqp && !kafka) return std::unexpected("nothing to calibrate: give --amqp HOST:PORT, --kafka HOST:PORT or both");
  if (auto ok = amqp ? amqp->check() : std::expected<void, std::string>{}; !ok) return std::unexpected(fmt::format("{}: {}", o.amqp, ok.error()));
  const auto brokers = kafka ? kafka->check() : std::expected<int, std::string>{0};
  if (!brokers) return std::unexpected(fmt::format("{}: {}", o.kafka, brokers.error()));
  if (amqp) {
    if (!o.quiet) {
      fmt::print("calibrating the AMQP broker at {} ({} probes of {:g} s)\n", o.amqp, workbench::amqp_probes(r.amqp_nodes).size(), o.seconds);
    }
    if (auto ok = measure_amqp(*amqp, r, o.quiet); !ok) return std::unexpected(fmt::format("{}: {} (nothing written)", o.amqp, ok.error()));
  }
  if (kafka) {
    if (!o.quiet) {
      fmt::print("calibrating the Kafka broker at {} ({} probes of {:g} s)\n", o.kafka, workbench::kafka_probes(*brokers).size(), o.seconds);
    }
    if (auto ok = measure_kafka(*kafka, *brokers, r, o.quiet); !ok) return std::unexpected(fmt::format("{}: {} (nothing written)", o.kafka, ok.error()));
  }
  // Ten thousand sleeps (about 0.7 s): a few wake far later than the rest, and a shorter
  // sample gives one stray the weight of many.
  r.wake = workbench::wake_latencies(10'000);
  // Stalls of a running thread come a few times a second: two seconds of watching.
  r.stall_watch = 2.0;
  r.stalls = workbench::running_stalls(r.stall_watch);
  // The machine's wake-ups vary from run to run (12 to 19 us on the VM the profiles were made
  // on): the median of three runs.
  std::vector<double> wake_ups;
  for (int run = 0; run < 3; ++run) {
    auto wake_up = workbench::wake_up_cpu(wake_up_round_trips);
    if (!wake_up) return std::unexpected(wake_up.error() + " (nothing written)");
    wake_ups.push_back(*wake_up);
  }
  std::ranges::sort(wake_ups);
  r.wake_up_cpu = wake_ups[1];
  if (!o.broker_pids.empty()) measure_fresh_memory(r);
  return {};
}

std::string default_title(const calibrate_options& o) {
  if (o.kafka.empty()) return fmt::format("The AMQP broker at {}, calibrated by mqlab calibrate", o.amqp);
  if (o.amqp.empty()) return fmt::format("The Kafka broker at {}, calibrated by mqlab calibrate", o.kafka);
  return fmt::format("The AMQP broker at {} and the Kafka broker at {}, calibrated by mqlab calibrate", o.amqp, o.kafka);
}

int run_calibrate(const calibrate_options& o) {
  auto prior = workbench::load_profile(o.prior);
  if (!prior) {
    fmt::print(stderr, "mqlab calibrate: --prior: {}\n", prior.error());
    return 2;
  }
  workbench::probe_timing timing;
  timing.warmup = std::chrono::milliseconds(static_cast<long>(o.warmup * 1000));
  timing.measure = std::chrono::milliseconds(static_cast<long>(o.seconds * 1000));
  timing.answer = std::chrono::milliseconds(static_cast<long>(o.answer_timeout * 1000));
  workbench::calibration_record r{
      .name = o.name.empty() ? std::filesystem::path(o.out).stem().string() : o.name,
      .title = o.title.empty() ? default_title(o) : o.title,
      .date = today(), .command = command_line(o), .target = o.amqp, .kafka_target = o.kafka,
      .amqp_nodes = static_cast<std::uint32_t>(std::max<std::size_t>(1, workbench::address_list(o.amqp).size())), .cpu_model = cpu_model(),
      .machine_cores = static_cast<int>(std::thread::hardware_concurrency()), .cores = o.cores,
      .write_coalescing_us = o.write_coalescing_us, .prior = *prior, .prior_name = o.prior};
  if (auto ok = measure(o, timing, r); !ok) {
    fmt::print(stderr, "mqlab calibrate: {}\n", ok.error());
    return 2;
  }
  if (auto ok = fit(r); !ok) {
    fmt::print(stderr, "mqlab calibrate: the fit failed: {} (nothing written)\n", ok.error());
    return 2;
  }
  if (!o.quiet) report(r);
  std::ofstream file(o.out);
  file << workbench::profile_yaml(r);
  if (!file.flush()) {
    fmt::print(stderr, "mqlab calibrate: --out {}: cannot write the profile\n", o.out);
    return 2;
  }
  fmt::print("profile written to {}\n", o.out);
  return 0;
}

}  // namespace

void add_calibrate_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<calibrate_options>();
  auto* cmd = app.add_subcommand("calibrate", "Measure a running AMQP and/or Kafka broker with fixed probe workloads and write the "
                                              "per-operation costs that make the simulation saturate where it does");
  cmd->add_option("--amqp", o->amqp, "The AMQP broker: HOST:PORT (an IP address), or a cluster's nodes HOST:PORT,HOST:PORT,... (the probes' queues on the first; three more probes cross nodes and mirror queues with x-ha-policy all)");
  cmd->add_option("--kafka", o->kafka, "The Kafka broker: HOST:PORT[,HOST:PORT...] (IP addresses), as bootstrap.servers");
  cmd->add_option("--user", o->user, "USER:PASSWORD to log in as")->capture_default_str();
  cmd->add_option("--vhost", o->vhost, "The virtual host the probes use")->capture_default_str();
  cmd->add_option("--out", o->out, "The profile to write (profiles/NAME.yaml)")->required();
  cmd->add_option("--name", o->name, "The profile's name (default: the file's stem)");
  cmd->add_option("--title", o->title, "The profile's title");
  cmd->add_option("--cores", o->cores, "Cores the broker's work spreads over: node.cores of the profile and the fit")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--write-coalescing-us", o->write_coalescing_us,
                  "Microseconds the broker holds a write to a client that follows its last one sooner, for company "
                  "(mqlab broker: 100; RabbitMQ: 0): node.write_coalescing of the profile, told, not measured")
      ->check(CLI::Range(0, 1'000'000))->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "How long each probe is measured, after its warm-up")
      ->check(CLI::Range(0.1, 60.0))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "How long each probe runs before it is measured, seconds")
      ->check(CLI::Range(0.0, 60.0))->capture_default_str();
  cmd->add_option("--answer-timeout", o->answer_timeout, "Seconds to wait for any answer before the broker counts as gone")
      ->check(CLI::Range(0.1, 600.0))->capture_default_str();
  cmd->add_option("--prior", o->prior, "The profile unmeasured costs and resources come from, scaled to the measurements")
      ->capture_default_str();
  cmd->add_option("--broker-pid", o->broker_pids,
                  "The broker's process, when it runs on this machine (PID[,PID...]: several processes, e.g. a cluster's "
                  "nodes, summed): each probe also measures its CPU time, and the fit prices what the broker did with the "
                  "cores it kept busy rather than assuming it was saturated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 22));
  cmd->add_flag("--quiet", o->quiet, "Print only where the profile went");
  cmd->callback([o, &exit_code] { exit_code = run_calibrate(*o); });
}

}  // namespace mqlab::cli
