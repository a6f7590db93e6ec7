// The max-rate command: reads the search's flags, runs it, reports.
#include "cli/max_rate_command.h"

#include <charconv>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/scenario_commands.h"
#include "net/log.h"
#include "workbench/max_rate.h"

namespace mqlab::cli {
namespace {

struct max_rate_options {
  std::string file, variant, field = "arrivals.rate", mode = "sim";
  double from = 0, to = 0;
  std::string resolution = "2%", tolerance = "2%";
  int replications = 5;
  std::vector<std::string> sets;
  bool json = false;
};

/// "2%" or "0.02" as a fraction.
std::expected<double, std::string> fraction(const std::string& flag, const std::string& text) {
  const bool percent = text.ends_with('%');
  const std::string_view digits(text.data(), text.size() - (percent ? 1 : 0));
  double v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc{} || end != digits.data() + digits.size() || !(v > 0)) {
    return std::unexpected(fmt::format("{} {}: expected a positive share such as 2% or 0.02", flag, text));
  }
  return percent ? v / 100 : v;
}

std::expected<workbench::max_rate_request, std::string> parse_request(const max_rate_options& o) {
  if (o.mode != "sim" && o.mode != "net") return std::unexpected(fmt::format("--mode {}: expected sim or net", o.mode));
  workbench::max_rate_request r{.file = o.file, .variant = o.variant, .path = o.field, .low = o.from, .high = o.to,
                                .replications = o.replications,
                                .mode = o.mode == "net" ? workbench::run_mode::net : workbench::run_mode::sim};
  auto resolution = fraction("--resolution", o.resolution);
  if (!resolution) return std::unexpected(resolution.error());
  auto tolerance = fraction("--tolerance", o.tolerance);
  if (!tolerance) return std::unexpected(tolerance.error());
  r.resolution = *resolution;
  r.tolerance = *tolerance;
  auto sets = parse_sets(o.sets);
  if (!sets) return std::unexpected(sets.error());
  r.sets = std::move(*sets);
  return r;
}

std::string describe(const workbench::rate_probe& p) {
  return fmt::format("search {}: {:.1f}/s {} (backlog grew {:.2f}% of what was offered, {:.2f}% of requests done)",
                     p.replication + 1, p.rate, p.keeps_up ? "keeps up" : "falls behind", p.backlog_growth * 100,
                     p.done_share * 100);
}

int run_max_rate(const max_rate_options& o) {
  auto request = parse_request(o);
  if (!request) {
    fmt::print(stderr, "mqlab max-rate: {}\n", request.error());
    return 2;
  }
  if (request->mode == workbench::run_mode::net) net::set_log_level(net::log_level::error);
  std::expected<workbench::max_rate_result, std::string> result;
  try {
    result = workbench::find_max_rate(*request, [&o](const workbench::rate_probe& p) {
      if (!o.json) fmt::print("{}\n", describe(p));
      std::fflush(stdout);
    });
  } catch (const std::runtime_error& e) {
    result = std::unexpected(e.what());  // net mode: a port or socket the system refuses
  }
  if (!result) {
    fmt::print(stderr, "mqlab max-rate: {}: {}\n", o.file, result.error());
    return 2;
  }
  if (o.json) {
    nlohmann::json probes = nlohmann::json::array();
    for (const auto& p : result->probes) {
      probes.push_back({{"search", p.replication + 1}, {"rate", p.rate}, {"keeps_up", p.keeps_up},
                        {"backlog_growth", p.backlog_growth}, {"done_share", p.done_share}});
    }
    const nlohmann::json j{{"file", o.file}, {"mode", o.mode}, {"field", o.field}, {"max_rate", result->mean},
                           {"ci95", result->ci95}, {"per_search", result->per_replication},
                           {"resolution", request->resolution}, {"tolerance", request->tolerance}, {"probes", probes}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("\nmaximum sustainable rate: {:.1f}/s", result->mean);
  if (result->per_replication.size() > 1) {
    fmt::print(" ± {:.1f}/s (95%, {} searches, one per seed)", result->ci95, result->per_replication.size());
  }
  fmt::print("\n  resolution {:g}%, keeping up: backlog growth and requests left undone each within {:g}%\n",
             request->resolution * 100, request->tolerance * 100);
  return 0;
}

}  // namespace

void add_max_rate_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<max_rate_options>();
  auto* cmd = app.add_subcommand("max-rate", "Find the highest offered rate a scenario's variant keeps up with, by "
                                             "bisection (in the simulation: one search per seed, with a 95% interval)");
  cmd->add_option("file", o->file, "Scenario file")->required();
  cmd->add_option("--variant", o->variant, "The variant to search (default: the first)");
  cmd->add_option("--field", o->field, "The field that sets the offered rate, per second")->capture_default_str();
  cmd->add_option("--from", o->from, "A rate (per second) the variant keeps up with: where the search starts")->required();
  cmd->add_option("--to", o->to, "A rate it falls behind at (default: doubled from --from until one does)");
  cmd->add_option("--resolution", o->resolution, "Stop when the bracket is this narrow, relative to its low end")
      ->capture_default_str();
  cmd->add_option("--tolerance", o->tolerance, "Keeping up: the backlog grew by at most this share of what was "
                                               "offered in the window, and at most this share of requests is undone")
      ->capture_default_str();
  cmd->add_option("--replications", o->replications, "Searches in the simulation, seed, seed + 1, ...")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--mode", o->mode, "sim (discrete-event simulation) or net (real network, one search)")
      ->capture_default_str();
  cmd->add_option("--set", o->sets, "Override a field for every probe, as for run");
  cmd->add_flag("--json", o->json, "Print one JSON object: the answer, its interval and every probe");
  cmd->callback([o, &exit_code] { exit_code = run_max_rate(*o); });
}

}  // namespace mqlab::cli
