// Argument checks, the run, and the two output forms (a table and one JSON object).
#include "cli/station_command.h"

#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/progress.h"
#include "models/station_lab.h"
#include "sim/time.h"

namespace mqlab::cli {
namespace {

constexpr int max_replications = 10'000;
constexpr double max_customers_simulated = 1e10;

struct station_options {
  double arrival_rate = 0;
  double service_rate = 0;
  int servers = 1;
  std::string service_dist = "exp";
  std::optional<std::uint64_t> capacity;
  std::uint64_t customers = 200'000;
  std::optional<std::uint64_t> warmup;
  int replications = 5;
  std::uint64_t seed = 1;
  bool json = false;
  bool quiet = false;
};

struct usage_error {
  std::string message;
};

std::expected<models::station_lab_config, usage_error> to_config(const station_options& o) {
  auto fail = [](std::string flag, std::string why) {
    return std::unexpected(usage_error{fmt::format("{}: {}", flag, why)});
  };
  if (!(o.arrival_rate > 0)) return fail("--arrival-rate", fmt::format("must be a positive rate per second, got {}", o.arrival_rate));
  if (!(o.service_rate > 0)) return fail("--service-rate", fmt::format("must be a positive rate per second, got {}", o.service_rate));
  if (o.servers < 1) return fail("--servers", fmt::format("must be at least 1, got {}", o.servers));
  if (o.capacity && *o.capacity < static_cast<std::uint64_t>(o.servers)) {
    return fail("--capacity", fmt::format("must be at least --servers ({}), got {}", o.servers, *o.capacity));
  }
  if (o.customers < 1) return fail("--customers", "must be at least 1");
  if (o.replications < 1 || o.replications > max_replications) {
    return fail("--replications", fmt::format("must be from 1 to {}, got {}", max_replications, o.replications));
  }
  // A bound on the work, so that no flag makes a run that never ends: about a quarter of an
  // hour at the kernel's ten million or so customers per second.
  const std::uint64_t warmup = o.warmup.value_or(o.customers / 20);
  const double total = (static_cast<double>(o.customers) + static_cast<double>(warmup)) * o.replications;
  if (total > max_customers_simulated) {
    return fail(o.warmup && *o.warmup > o.customers ? "--warmup" : "--customers",
                fmt::format("(customers + warm-up) x replications is {:.3g}; at most {:.0e} are simulated", total,
                            max_customers_simulated));
  }
  const double rho = o.arrival_rate / (o.servers * o.service_rate);
  if (rho >= 1 && !o.capacity) {
    return fail("--arrival-rate",
                fmt::format("utilisation ρ = λ/(cμ) = {:.3g} ≥ 1 without --capacity: the queue grows without bound", rho));
  }
  auto service = sim::parse_distribution(o.service_dist, 1.0 / o.service_rate);
  if (!service) return fail("--service-dist", service.error());

  models::station_lab_config cfg;
  cfg.arrival_rate = o.arrival_rate;
  cfg.station = {"station", o.servers, *service, o.capacity.value_or(0)};
  cfg.customers = o.customers;
  cfg.warmup = warmup;
  cfg.replications = o.replications;
  cfg.seed = o.seed;
  return cfg;
}

nlohmann::json theory_or_null(const std::optional<models::queue_measures>& t, double models::queue_measures::*field) {
  return t ? nlohmann::json(t.value().*field) : nlohmann::json(nullptr);
}

nlohmann::json quantile_or_null(const std::optional<models::queue_measures>& t, double q) {
  return t && t->wait_quantile ? nlohmann::json(t->wait_quantile(q)) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const models::station_lab_config& cfg, const models::station_lab_result& r) {
  const auto& t = r.theory;
  return {
      {"model", models::kendall(cfg.station.service, cfg.station.servers, cfg.station.capacity)},
      {"arrival_rate", cfg.arrival_rate},
      {"service_mean", cfg.station.service.mean()},
      {"servers", cfg.station.servers},
      {"seed", cfg.seed},
      {"replications", cfg.replications},
      {"customers", r.customers},
      {"wait_mean", r.wait_mean.mean},
      {"wait_mean_ci95", r.wait_mean.half_width},
      {"wait_mean_theory", theory_or_null(t, &models::queue_measures::wait_mean)},
      {"response_mean", r.response_mean.mean},
      {"response_mean_ci95", r.response_mean.half_width},
      {"response_mean_theory", theory_or_null(t, &models::queue_measures::response_mean)},
      {"utilization", r.utilization.mean},
      {"utilization_theory", theory_or_null(t, &models::queue_measures::utilization)},
      {"block_prob", r.block_prob.mean},
      {"block_prob_theory", theory_or_null(t, &models::queue_measures::block_prob)},
      {"wait_p50", r.waits.percentile(50) * 1e-9},
      {"wait_p50_theory", quantile_or_null(t, 0.50)},
      {"wait_p90", r.waits.percentile(90) * 1e-9},
      {"wait_p99", r.waits.percentile(99) * 1e-9},
      {"wait_p99_theory", quantile_or_null(t, 0.99)},
      {"wait_max", r.waits.max() * 1e-9},
  };
}

std::string seconds(double s) { return sim::format_duration(sim::duration::from_seconds(s)); }

std::string versus(double sim_value, std::optional<double> theory, bool as_time) {
  auto show = [&](double v) { return as_time ? seconds(v) : fmt::format("{:.4f}", v); };
  if (!theory) return fmt::format("{:>12}  {:>12}", show(sim_value), "—");
  const double diff = *theory != 0 ? (sim_value - *theory) / *theory * 100 : 0.0;
  return fmt::format("{:>12}  {:>12}  {:+.2f}%", show(sim_value), show(*theory), diff);
}

void print_table(const models::station_lab_config& cfg, const models::station_lab_result& r) {
  const auto& st = cfg.station;
  const auto& t = r.theory;
  fmt::print("{} station: λ = {:g}/s, μ = {:g}/s, c = {}, ρ = {:.3f}, service {}\n",
             models::kendall(st.service, st.servers, st.capacity), cfg.arrival_rate, 1.0 / st.service.mean(),
             st.servers, cfg.arrival_rate * st.service.mean() / st.servers, st.service.describe());
  fmt::print("{} replication(s) x {} customers (warm-up {}), seed {}\n\n", cfg.replications, cfg.customers,
             cfg.warmup, cfg.seed);
  fmt::print("{:<22}{:>12}  {:>12}  {}\n", "", "simulated", "theory", "diff");
  auto opt = [&](double models::queue_measures::*f) { return t ? std::optional<double>(t.value().*f) : std::nullopt; };
  fmt::print("{:<22}{}   (±{:.2f}% at 95%)\n", "wait mean (Wq)", versus(r.wait_mean.mean, opt(&models::queue_measures::wait_mean), true),
             r.wait_mean.relative() * 100);
  fmt::print("{:<22}{}\n", "response mean (W)", versus(r.response_mean.mean, opt(&models::queue_measures::response_mean), true));
  fmt::print("{:<22}{}\n", "utilisation", versus(r.utilization.mean, opt(&models::queue_measures::utilization), false));
  fmt::print("{:<22}{}\n", "blocking probability", versus(r.block_prob.mean, opt(&models::queue_measures::block_prob), false));
  for (double q : {50.0, 90.0, 99.0, 99.9}) {
    const auto theory = t && t->wait_quantile ? std::optional<double>(t->wait_quantile(q / 100)) : std::nullopt;
    fmt::print("{:<22}{}\n", fmt::format("wait p{}", q), versus(r.waits.percentile(q) * 1e-9, theory, true));
  }
  fmt::print("{:<22}{:>12}\n", "wait max", seconds(r.waits.max() * 1e-9));
  if (!t) fmt::print("\nNo exact formula applies to {} (theory shown as —).\n", models::kendall(st.service, st.servers, st.capacity));
}

}  // namespace

void add_station_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<station_options>();
  auto* cmd = app.add_subcommand("station", "Simulate a G/G/c/K queueing station and compare it with queueing theory");
  cmd->add_option("--arrival-rate", opts->arrival_rate, "Poisson arrival rate λ per second")->required();
  cmd->add_option("--service-rate", opts->service_rate, "Service rate μ per second per server")->required();
  cmd->add_option("--servers", opts->servers, "Number of servers c")->capture_default_str();
  cmd->add_option("--service-dist", opts->service_dist, "exp | const | erlang:K | lognormal:CV | hyperexp:CV | uniform:SPREAD")
      ->capture_default_str();
  cmd->add_option("--capacity", opts->capacity, "Places in the station (queue + service); arrivals beyond are blocked");
  cmd->add_option("--customers", opts->customers, "Measured customers per replication")->capture_default_str();
  cmd->add_option("--warmup", opts->warmup, "Customers discarded at the start (default customers/20)");
  cmd->add_option("--replications", opts->replications, "Independent replications (1 = batch means)")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print one JSON object instead of the table");
  cmd->add_flag("--quiet", opts->quiet, "No progress bar");
  cmd->callback([opts, &exit_code] {
    auto cfg = to_config(*opts);
    if (!cfg) {
      fmt::print(stderr, "mqlab station: {}\n", cfg.error().message);
      exit_code = 2;
      return;
    }
    models::station_lab_result result;
    {
      progress_bar bar("simulating", !opts->quiet);
      result = models::run_station_lab(*cfg, [&bar](int done, int total) { bar.update(done, total); });
    }
    if (opts->json) {
      fmt::print("{}\n", to_json(*cfg, result).dump(2));
    } else {
      print_table(*cfg, result);
    }
    exit_code = 0;
  });
}

}  // namespace mqlab::cli
