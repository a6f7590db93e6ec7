// The calibrate command: flags, the probes in order, the fit, the profile file.
#include "cli/calibrate_command.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "cli/progress.h"
#include "workbench/amqp_prober.h"
#include "workbench/calibration_profile.h"
#include "workbench/number.h"
#include "workbench/profile.h"

namespace mqlab::cli {
namespace {

struct calibrate_options {
  std::string amqp, user = "guest:guest", vhost = "/", out, name, title, prior = "default";
  int cores = 1;
  double seconds = 2.0, warmup = 0.5, answer_timeout = 10;
  bool quiet = false;
};

std::expected<workbench::amqp_endpoint, std::string> parse_endpoint(const calibrate_options& o) {
  workbench::amqp_endpoint at;
  const auto colon = o.amqp.rfind(':');
  const auto port = colon == std::string::npos ? std::nullopt
                                               : workbench::parse_number<std::uint16_t>(std::string_view(o.amqp).substr(colon + 1));
  if (colon == 0 || !port || *port == 0) {
    return std::unexpected(fmt::format("--amqp {}: expected HOST:PORT, an IP address and a port 1-65535", o.amqp));
  }
  at.port = *port;
  at.login.host = o.amqp.substr(0, colon);
  const auto split = o.user.find(':');
  if (split == std::string::npos || split == 0) return std::unexpected(fmt::format("--user {}: expected USER:PASSWORD", o.user));
  at.login.user = o.user.substr(0, split);
  at.login.password = o.user.substr(split + 1);
  at.login.vhost = o.vhost;
  return at;
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
  std::string c = fmt::format("mqlab calibrate --amqp {} --out {} --cores {}", o.amqp, o.out, o.cores);
  if (o.user != "guest:guest") c += fmt::format(" --user {}:***", o.user.substr(0, o.user.find(':')));
  if (o.vhost != "/") c += fmt::format(" --vhost {}", o.vhost);
  if (o.seconds != 2.0) c += fmt::format(" --seconds {:g}", o.seconds);
  if (o.warmup != 0.5) c += fmt::format(" --warmup {:g}", o.warmup);
  if (o.prior != "default") c += fmt::format(" --prior {}", o.prior);
  return c;
}

/// Runs every probe and the latency series into `r`; the first failure ends it.
std::expected<void, std::string> measure(workbench::amqp_prober& prober, workbench::calibration_record& r, bool quiet) {
  const auto probes = workbench::amqp_probes();
  const int steps = static_cast<int>(probes.size()) + 3;
  progress_bar bar("calibrating", !quiet);
  int done = 0;
  for (const auto& p : probes) {
    bar.update(done++, steps);
    auto m = prober.saturate(p);
    if (!m) return std::unexpected(fmt::format("probe {}: {}", p.name, m.error()));
    r.probes.push_back({p, workbench::metered_work(p), *m});
    bar.clear();
    if (!quiet) fmt::print("  {:<24} {:>10.0f} msg/s\n", p.name, m->rate());
    std::fflush(stdout);
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

std::expected<void, std::string> fit(workbench::calibration_record& r) {
  std::vector<workbench::probe_work> work;
  std::vector<double> rates, cores;
  for (const auto& p : r.probes) {
    work.push_back(p.work);
    rates.push_back(p.measured.rate());
    cores.push_back(workbench::broker_cores(r, p));
  }
  auto f = workbench::fit_costs(work, rates, cores, r.prior.amqp);
  if (!f) return std::unexpected(f.error());
  r.fit = std::move(*f);
  return {};
}

void report(const workbench::calibration_record& r) {
  fmt::print("\n  {:<24} {:>12} {:>12} {:>8} {:>13}\n", "probe", "measured/s", "fitted/s", "error", "broker cores");
  for (const auto& p : r.probes) {
    const double cores = workbench::broker_cores(r, p);
    const double fitted = workbench::predicted_rate(p.work, r.fit.costs, cores);
    fmt::print("  {:<24} {:>12.0f} {:>12.0f} {:>7.1f}% {:>13.2f}\n", p.probe.name, p.measured.rate(), fitted,
               100 * (fitted / p.measured.rate() - 1), cores);
  }
  fmt::print("  client link latency {:.1f} us (half the median round trip); fsync wait {:.1f} us\n",
             workbench::link_latency(r) * 1e6, workbench::fsync_wait(r) * 1e6);
}

int run_calibrate(const calibrate_options& o) {
  auto at = parse_endpoint(o);
  if (!at) {
    fmt::print(stderr, "mqlab calibrate: {}\n", at.error());
    return 2;
  }
  auto prior = workbench::load_profile(o.prior);
  if (!prior) {
    fmt::print(stderr, "mqlab calibrate: --prior: {}\n", prior.error());
    return 2;
  }
  workbench::probe_timing timing;
  timing.warmup = std::chrono::milliseconds(static_cast<long>(o.warmup * 1000));
  timing.measure = std::chrono::milliseconds(static_cast<long>(o.seconds * 1000));
  timing.answer = std::chrono::milliseconds(static_cast<long>(o.answer_timeout * 1000));
  workbench::amqp_prober prober(*at, timing);
  if (auto ok = prober.check(); !ok) {
    fmt::print(stderr, "mqlab calibrate: {}: {}\n", o.amqp, ok.error());
    return 2;
  }
  workbench::calibration_record r{
      .name = o.name.empty() ? std::filesystem::path(o.out).stem().string() : o.name,
      .title = o.title.empty() ? fmt::format("The AMQP broker at {}, calibrated by mqlab calibrate", o.amqp) : o.title,
      .date = today(), .command = command_line(o), .target = o.amqp, .cpu_model = cpu_model(),
      .machine_cores = static_cast<int>(std::thread::hardware_concurrency()), .cores = o.cores,
      .prior = *prior, .prior_name = o.prior};
  if (!o.quiet) fmt::print("calibrating the AMQP broker at {} ({} probes of {:g} s)\n", o.amqp, workbench::amqp_probes().size(), o.seconds);
  if (auto ok = measure(prober, r, o.quiet); !ok) {
    fmt::print(stderr, "mqlab calibrate: {}: {} (nothing written)\n", o.amqp, ok.error());
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
  auto* cmd = app.add_subcommand("calibrate", "Measure a running AMQP broker with fixed probe workloads and write the "
                                              "per-operation costs that make the simulation saturate where it does");
  cmd->add_option("--amqp", o->amqp, "The broker: HOST:PORT (an IP address)")->required();
  cmd->add_option("--user", o->user, "USER:PASSWORD to log in as")->capture_default_str();
  cmd->add_option("--vhost", o->vhost, "The virtual host the probes use")->capture_default_str();
  cmd->add_option("--out", o->out, "The profile to write (profiles/NAME.yaml)")->required();
  cmd->add_option("--name", o->name, "The profile's name (default: the file's stem)");
  cmd->add_option("--title", o->title, "The profile's title");
  cmd->add_option("--cores", o->cores, "Cores the broker's work spreads over: node.cores of the profile and the fit")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "How long each probe is measured, after its warm-up")
      ->check(CLI::Range(0.1, 60.0))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "How long each probe runs before it is measured, seconds")
      ->check(CLI::Range(0.0, 60.0))->capture_default_str();
  cmd->add_option("--answer-timeout", o->answer_timeout, "Seconds to wait for any answer before the broker counts as gone")
      ->check(CLI::Range(0.1, 600.0))->capture_default_str();
  cmd->add_option("--prior", o->prior, "The profile unmeasured costs and resources come from, scaled to the measurements")
      ->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "Print only where the profile went");
  cmd->callback([o, &exit_code] { exit_code = run_calibrate(*o); });
}

}  // namespace mqlab::cli
