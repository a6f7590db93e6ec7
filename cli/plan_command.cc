// The plan command: parses the range and objectives, runs the planner, reports.
#include "cli/plan_command.h"

#include <cstdio>
#include <memory>
#include <stdexcept>

#include <QtCharts/QChart>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/scenario_commands.h"
#include "cli/shard.h"
#include "gui/charts.h"
#include "workbench/plan.h"

namespace mqlab::cli {
namespace {

struct plan_options {
  std::string file, minimize, max_rate;
  std::vector<std::string> slos, sets;
  int max_replications = 64;
  bool json = false;
  std::string shard, out;  // --shard I/N|auto: probe one slice of the grid, write it to --out
  std::string png;         // the probes' chart
};

/// The request from the flags; what they leave out (the range, the objectives) from the
/// scenario's own `plan:`.
std::expected<workbench::plan_request, std::string> parse_request(plan_options o) {
  if ((o.minimize.empty() && o.max_rate.empty()) || o.slos.empty()) {
    auto sc = workbench::load_scenario(o.file);
    if (!sc) return std::unexpected("\n" + sc.error().format(o.file));
    if (sc->plan && o.minimize.empty() && o.max_rate.empty()) {
      o.minimize = sc->plan->minimize;
      o.max_rate = sc->plan->max_rate;
    }
    if (sc->plan && o.slos.empty()) o.slos = sc->plan->slos;
  }
  workbench::plan_request r{.file = o.file, .max_replications = o.max_replications};
  if (o.minimize.empty() == o.max_rate.empty()) return std::unexpected("give one of --minimize and --max-rate (or a plan: in the scenario)");
  if (o.slos.empty()) return std::unexpected("give --slo METRIC<=VALUE (or a plan: in the scenario)");
  r.maximize = !o.max_rate.empty();
  if (r.maximize) r.path = "arrivals.rate";
  if (auto ok = r.maximize ? workbench::parse_range("--max-rate", o.max_rate, true, r) : workbench::parse_range("--minimize", o.minimize, false, r);
      !ok) {
    return std::unexpected(ok.error());
  }
  for (const auto& text : o.slos) {
    auto objective = workbench::parse_slo(text);
    if (!objective) return std::unexpected(objective.error());
    r.objectives.push_back(std::move(*objective));
  }
  auto sets = parse_sets(o.sets);
  if (!sets) return std::unexpected(sets.error());
  r.sets = std::move(*sets);
  return r;
}

nlohmann::json probe_json(const workbench::plan_request& r, const workbench::probe& p) {
  nlohmann::json checks = nlohmann::json::array();
  for (std::size_t i = 0; i < p.checks.size(); ++i) {
    checks.push_back({{"slo", r.objectives[i].text}, {"mean", p.checks[i].mean}, {"ci95", p.checks[i].ci95},
                      {"verdict", workbench::to_string(p.checks[i].outcome)}});
  }
  return nlohmann::json{{"value", p.value}, {"replications", p.replications},
                        {"verdict", workbench::to_string(p.outcome)}, {"checks", checks}};
}

workbench::verdict verdict_named(const nlohmann::json& name) {
  for (const auto v : {workbench::verdict::meets, workbench::verdict::misses, workbench::verdict::cannot_tell}) {
    if (name.get<std::string>() == workbench::to_string(v)) return v;
  }
  throw std::runtime_error("unknown verdict " + name.dump());
}

/// A probe a shard wrote (probe_json), read back exactly: JSON keeps doubles to the last bit.
workbench::probe probe_from(const nlohmann::json& j) {
  workbench::probe p{j.at("value").get<std::int64_t>(), j.at("replications").get<int>(), verdict_named(j.at("verdict")), {}};
  for (const auto& c : j.at("checks")) {
    p.checks.push_back({c.at("mean").get<double>(), c.at("ci95").get<double>(), verdict_named(c.at("verdict"))});
  }
  return p;
}

nlohmann::json to_json(const workbench::plan_request& r, const workbench::plan_result& result) {
  nlohmann::json probes = nlohmann::json::array();
  nlohmann::json at_answer, neighbour;
  for (const auto& p : result.probes) {
    probes.push_back(probe_json(r, p));
    if (result.answer && p.value == *result.answer) at_answer = probe_json(r, p);
    if (result.neighbour && p.value == *result.neighbour) neighbour = probe_json(r, p);
  }
  nlohmann::json out{{"path", r.path},
                     {"direction", r.maximize ? "maximize" : "minimize"},
                     {"answer", result.answer ? nlohmann::json(*result.answer) : nlohmann::json()},
                     {"probes", probes},
                     {"confidence", {{"level", 0.95}, {"at_answer", at_answer}, {"neighbour", neighbour}}},
                     {"monotonicity", result.monotonicity.empty() ? nlohmann::json() : nlohmann::json(result.monotonicity)},
                     {"prediction", nullptr}};
  if (const auto& t = result.theory) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [c, v] : t->values) values[std::to_string(c)] = v;
    out["prediction"] = {{"model", t->model}, {"lambda", t->lambda}, {"mu", t->mu}, {"stable_from", t->stable_from},
                         {"answer", t->answer ? nlohmann::json(*t->answer) : nlohmann::json()}, {"metric", r.objectives.front().metric},
                         {"values", values}};
  }
  return out;
}

/// Prints the answer (or the JSON object); exit 0 with an answer, 1 without.
int report(const plan_options& o, const workbench::plan_request& request,
           const std::expected<workbench::plan_result, std::string>& result) {
  if (!result) {
    fmt::print(stderr, "mqlab plan: {}\n", result.error());
    return 2;
  }
  if (o.json) fmt::print("{}\n", to_json(request, *result).dump(2));
  else fmt::print("{}", workbench::summary(request, *result));
  if (!o.png.empty()) {
    gui::prepare_headless_environment();
    gui::ensure_application();
    auto chart = gui::make_plan_chart(request, *result);
    if (!chart || !gui::render_png(*chart, o.png, 1000, 600)) {
      fmt::print(stderr, "mqlab plan: cannot write {}\n", o.png);
      return 2;
    }
    if (!o.json) fmt::print("chart in {}\n", o.png);
  }
  return result->answer ? 0 : 1;
}

/// What a plan's parts share: the options that make its request.
nlohmann::json plan_key(const plan_options& o) {
  return {{"file", o.file}, {"minimize", o.minimize}, {"max_rate", o.max_rate}, {"slos", o.slos},
          {"sets", o.sets}, {"max_replications", o.max_replications}};
}

/// One shard of a plan: its slice of the grid probed and written to --out.
int run_plan_shard(const plan_options& o, const workbench::plan_request& request) {
  const auto shard = parse_shard(o.shard);
  if (!shard || o.out.empty() || o.json || !o.png.empty()) {
    fmt::print(stderr, "mqlab plan: {}\n", !shard ? shard.error() : "--shard writes its probes to --out DIR (mqlab merge "
                                                                      "gives the answer); give --out, not --json or --png");
    return 2;
  }
  auto probes = workbench::probe_slice(request, shard->index, shard->count, [&](const workbench::probe& p) {
    fmt::print("probe {}\n", workbench::describe(request, p));
    std::fflush(stdout);
  });
  if (!probes) {
    fmt::print(stderr, "mqlab plan: {}\n", probes.error());
    return 2;
  }
  nlohmann::json part{{"plan", plan_key(o)}, {"shard", shard->index + 1}, {"shards", shard->count},
                      {"probes", nlohmann::json::array()}};
  for (const auto& p : *probes) part["probes"].push_back(probe_json(request, p));
  const auto file = write_part(part, o.out);
  if (!file) fmt::print(stderr, "mqlab plan: {}\n", file.error());
  else fmt::print("shard {} of {}: {} probes in {}\n", shard->index + 1, shard->count, probes->size(), *file);
  return file ? 0 : 2;
}

int run_plan(const plan_options& o) {
  auto request = parse_request(o);
  if (!request) {
    fmt::print(stderr, "mqlab plan: {}\n", request.error());
    return 2;
  }
  if (!o.shard.empty()) return run_plan_shard(o, *request);
  return report(o, *request, workbench::plan(*request, [&](const workbench::probe& p) {
    if (!o.json) fmt::print("probe {}\n", workbench::describe(*request, p));
    std::fflush(stdout);
  }));
}

}  // namespace

int merge_plan(const std::vector<nlohmann::json>& parts, bool json) {
  check_parts(parts, "plan");
  const auto& key = parts.front().at("plan");
  plan_options o{.file = key.at("file").get<std::string>(), .minimize = key.at("minimize").get<std::string>(),
                 .max_rate = key.at("max_rate").get<std::string>(), .slos = key.at("slos").get<std::vector<std::string>>(),
                 .sets = key.at("sets").get<std::vector<std::string>>(), .max_replications = key.at("max_replications").get<int>(),
                 .json = json};
  auto request = parse_request(o);
  if (!request) throw std::runtime_error(request.error());
  std::vector<workbench::probe> probes;
  for (const auto& part : parts) {
    for (const auto& p : part.at("probes")) probes.push_back(probe_from(p));
  }
  return report(o, *request, workbench::conclude(*request, std::move(probes)));
}

void add_plan_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<plan_options>();
  auto* cmd = app.add_subcommand("plan", "Find the smallest value of a field (or the highest rate) for which every SLO "
                                         "holds; without --minimize/--max-rate and --slo, the scenario's own plan:");
  cmd->add_option("file", o->file, "Scenario file")->required();
  auto* minimize = cmd->add_option("--minimize", o->minimize, "PATH=FROM..TO[:STEP]: the integer field to minimise, "
                                                              "e.g. variants.main.consumers.count=1..32");
  cmd->add_option("--max-rate", o->max_rate,
                  "[PATH=]FROM..TO[:STEP]: the highest offered rate (per second; default field arrivals.rate) that meets "
                  "every SLO")
      ->excludes(minimize);
  cmd->add_option("--slo", o->slos, "METRIC<=VALUE (or <, >=, >, ==), e.g. 'main.e2e.p99<=110ms' (repeatable; default: "
                                    "the scenario's plan: slo)");
  cmd->add_option("--max-replications", o->max_replications,
                  "Replications a probe may grow to before it says it cannot tell")
      ->check(CLI::Range(2, 1024))->capture_default_str();
  cmd->add_option("--set", o->sets, "Override a field for every probe, as for run");
  cmd->add_flag("--json", o->json, "Print one JSON object: answer, probes, confidence, prediction");
  cmd->add_option("--png", o->png, "Also draw the probes, the objective, the answer and the prediction to this PNG");
  cmd->add_option("--shard", o->shard, "I/N: probe every value of the I-th of N slices of the grid instead of "
                                       "bisecting, and write the probes to --out (auto: from a Slurm job array or a "
                                       "Kubernetes Indexed Job); mqlab merge gives the answer");
  cmd->add_option("--out", o->out, "Where --shard writes its probes");
  cmd->callback([o, &exit_code] { exit_code = run_plan(*o); });
}

}  // namespace mqlab::cli
