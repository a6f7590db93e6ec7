// Thin adapters: load + validate (exit 2 with located errors), run with a progress bar, print
// a variants-as-columns table and the expectations, write results/ (exit 1 on a failed one).
#include "cli/scenario_commands.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "cli/progress.h"
#include "gui/charts.h"
#include "sim/time.h"
#include "net/log.h"
#include "workbench/labs.h"
#include "workbench/results.h"
#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace mqlab::cli {
namespace {

namespace fs = std::filesystem;

struct run_options {
  std::string file;
  std::string mode = "sim";
  std::optional<std::uint64_t> seed;
  std::vector<std::string> sets;
  std::vector<std::string> variants;  // empty: all
  std::string out = "results";
  bool json = false;
  bool quiet = false;
  bool no_charts = false;
  std::uint64_t max_memory_mib = workbench::default_memory_cap() >> 20;
};


std::string show(const std::string& key, double v) {
  if (workbench::is_time_metric(key) && !key.ends_with(".count")) return sim::format_duration(sim::duration::from_seconds(v));
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

std::string actual(const workbench::expectation_result& e) {
  return e.found ? show(e.expected.metric.substr(e.expected.metric.find('.') + 1), e.actual) : "no such metric";
}

void print_summary(const workbench::scenario& sc, const workbench::run_result& r) {
  static const std::vector<std::string> preferred = {
      "response.mean", "response.p50", "response.p99", "throughput", "rejected", "e2e.mean", "e2e.p99",
      "consume_rate",  "published",    "lost",         "dropped",    "dead_lettered", "expired", "redelivered",
      "rejected_publishes", "idle_consumers", "inter_node.bytes"};
  std::vector<std::string> rows;
  for (const auto& key : preferred) {
    const bool shown = std::any_of(r.variants.begin(), r.variants.end(), [&](const auto& v) {
      auto it = v.metrics.find(key);
      return it != v.metrics.end() && it->second.mean != 0;
    });
    if (shown) rows.push_back(key);
  }
  for (const auto& [key, m] : r.variants.front().metrics) {
    if (key.starts_with("station.") && key.ends_with(".utilization")) rows.push_back(key);
  }
  fmt::print("{}\n{}\n\n", sc.title.empty() ? sc.name : sc.title, std::string(std::max<std::size_t>(sc.title.size(), 8), '='));
  std::size_t width = 14;
  for (const auto& v : r.variants) width = std::max(width, v.name.size() + 2);
  fmt::print("{:<28}", "");
  for (const auto& v : r.variants) fmt::print("{:>{}}", v.name, width);
  fmt::print("\n");
  for (const auto& key : rows) {
    fmt::print("{:<28}", key);
    for (const auto& v : r.variants) {
      auto it = v.metrics.find(key);
      fmt::print("{:>{}}", it == v.metrics.end() ? "—" : show(key, it->second.mean), width);
    }
    fmt::print("\n");
  }
  if (!r.expectations.empty()) fmt::print("\nExpectations\n");
  for (const auto& e : r.expectations) fmt::print("  {}  {}   (got {})\n", e.passed ? "PASS" : "FAIL", e.expected.text, actual(e));
}

/// A failed expectation also goes to stderr, which is not buffered: in a log that keeps only the
/// head of a long run's output (CI's), it comes before the table.
void report_failures(const std::string& file, const workbench::run_result& r) {
  for (const auto& e : r.expectations)
    if (!e.passed) fmt::print(stderr, "mqlab run: {}: expectation failed: {} (got {})\n", file, e.expected.text, actual(e));
}

std::string utc_timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

int run(const run_options& o) {
  auto sets = parse_sets(o.sets);
  if (!sets) {
    fmt::print(stderr, "mqlab run: {}\n", sets.error());
    return 2;
  }
  if (o.mode != "sim" && o.mode != "net") {
    fmt::print(stderr, "mqlab run: --mode {}: expected sim or net\n", o.mode);
    return 2;
  }
  const auto mode = o.mode == "net" ? workbench::run_mode::net : workbench::run_mode::sim;
  // The servers' own lines would break the progress bar; faults in the scenario are expected.
  if (mode == workbench::run_mode::net) net::set_log_level(net::log_level::error);
  auto sc = workbench::load_scenario(o.file, *sets);
  if (!sc) {
    fmt::print(stderr, "{}", sc.error().format(o.file));
    return 2;
  }
  if (!o.variants.empty()) {
    if (auto kept = workbench::keep_variants(*sc, o.variants); !kept) {
      fmt::print(stderr, "mqlab run: --variant: {}: {}\n", o.file, kept.error());
      return 2;
    }
  }
  if (auto ok = mode == workbench::run_mode::net ? workbench::net_mode_support(*sc) : std::expected<void, std::string>{}; !ok) {
    fmt::print(stderr, "mqlab run: --mode net: {}: {}\n", o.file, ok.error());
    return 2;
  }
  if (o.seed) sc->seed = *o.seed;
  workbench::run_result result;
  {
    progress_bar bar(fmt::format("running {}", sc->name), !o.quiet && !o.json);
    try {
      result = workbench::run_scenario(*sc, [&bar](double f) { bar.update(static_cast<int>(f * 1000), 1000); }, nullptr,
                                       {}, mode, o.max_memory_mib << 20);
    } catch (const std::runtime_error& e) {
      // Net mode's servers and clients are real: a port or socket the system refuses ends the run.
      fmt::print(stderr, "mqlab run: {}: {}\n", o.file, e.what());
      return 2;
    }
  }
  if (o.out != "-") {
    const fs::path dir = workbench::results_dir(o.out, *sc, utc_timestamp());
    if (auto w = workbench::write_results(dir, *sc, result, o.mode); !w) {
      fmt::print(stderr, "mqlab run: {}\n", w.error());
      return 2;
    }
    if (!o.no_charts) {
      // Charts are how results are meant to be read: PNGs beside the data, no display needed.
      const std::vector<gui::chart_kind> kinds(std::begin(gui::all_charts), std::end(gui::all_charts));
      if (auto charts = gui::plot_run(dir, kinds, dir); !charts) fmt::print(stderr, "mqlab run: charts: {}\n", charts.error());
    }
    if (!o.json && !o.quiet) fmt::print("results in {}\n\n", dir.string());
  }
  if (o.json) {
    fmt::print("{}\n", workbench::to_json(*sc, result, o.mode).dump(2));
  } else {
    print_summary(*sc, result);
  }
  report_failures(o.file, result);
  for (const auto& v : result.variants) {
    if (v.stopped.empty()) continue;
    fmt::print(stderr, "mqlab run: {}: variant '{}' {}; the metrics above cover the time before\n", o.file, v.name, v.stopped);
    return 2;
  }
  return result.all_passed() ? 0 : 1;
}

int labs() {
  const auto files = workbench::list_scenarios(workbench::bundled_scenarios_dir());
  if (!files) {
    fmt::print(stderr, "mqlab labs: {}\n", files.error());
    return 2;
  }
  for (const auto& f : *files) {
    auto sc = workbench::load_scenario(f.string());
    if (!sc) {
      fmt::print("{:<28} (invalid: run mqlab validate {})\n", f.filename().string(), f.string());
      continue;
    }
    fmt::print("{:<28} {}\n", f.filename().string(), sc->title);
    if (!sc->lesson.empty()) fmt::print("{:<28} {}\n", "", sc->lesson);
  }
  return 0;
}

}  // namespace

std::expected<workbench::overrides, std::string> parse_sets(const std::vector<std::string>& sets) {
  workbench::overrides out;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) return std::unexpected(fmt::format("--set {}: expected PATH=VALUE", s));
    out.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  return out;
}

void add_scenario_commands(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<run_options>();
  auto* run_cmd = app.add_subcommand("run", "Run a scenario file: every variant, replications, expectations, results/");
  run_cmd->add_option("file", o->file, "Scenario file (YAML)")->required();
  run_cmd->add_option("--mode", o->mode, "sim (discrete-event simulation) or net (real network)")->capture_default_str();
  run_cmd->add_option("--seed", o->seed, "Override the scenario's seed");
  run_cmd->add_option("--set", o->sets, "Override a field: --set duration=10s --set stations.db.servers=8");
  run_cmd->add_option("--variant", o->variants, "Run only this variant (repeatable), with the expectations about it");
  run_cmd->add_option("--out", o->out, "Results root directory, or - for none")->capture_default_str();
  run_cmd->add_flag("--json", o->json, "Print run.json to stdout instead of the table");
  run_cmd->add_flag("--quiet", o->quiet, "No progress bar");
  run_cmd->add_flag("--no-charts", o->no_charts, "Do not write PNG charts into the results folder");
  run_cmd->add_option("--max-memory", o->max_memory_mib,
                      "MiB the run may hold; past it the run stops, keeps what it measured and exits 2 (default: half the RAM)")
      ->check(CLI::Range(std::uint64_t{64}, std::uint64_t{1} << 30))->capture_default_str();
  run_cmd->callback([o, &exit_code] { exit_code = run(*o); });

  auto files = std::make_shared<std::vector<std::string>>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto* validate = app.add_subcommand("validate", "Check scenario files and report every problem with its place");
  validate->add_option("files", *files, "Scenario files")->required();
  validate->add_option("--set", *sets, "Overrides, as for run");
  validate->callback([files, sets, &exit_code] {
    exit_code = 0;
    auto parsed = parse_sets(*sets);
    if (!parsed) {
      fmt::print(stderr, "mqlab validate: {}\n", parsed.error());
      exit_code = 2;
      return;
    }
    for (const auto& f : *files) {
      auto sc = workbench::load_scenario(f, *parsed);
      if (sc) {
        fmt::print("{}: ok ({} variant(s), {} expectation(s))\n", f, sc->variants.size(), sc->expect.size());
      } else {
        fmt::print(stderr, "{}", sc.error().format(f));
        exit_code = 2;
      }
    }
  });

  auto* labs_cmd = app.add_subcommand("labs", "List the bundled lab scenarios with their titles and lessons");
  labs_cmd->callback([&exit_code] { exit_code = labs(); });
}

}  // namespace mqlab::cli
