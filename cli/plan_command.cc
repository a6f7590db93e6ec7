// The plan command: parses the range and objectives, runs the planner, reports.
#include "cli/plan_command.h"

#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/number.h"
#include "cli/scenario_commands.h"
#include "workbench/plan.h"

namespace mqlab::cli {
namespace {

struct plan_options {
  std::string file, minimize, max_rate;
  std::vector<std::string> slos, sets;
  int max_replications = 64;
  bool json = false;
};

/// [PATH=]FROM..TO with integers, PATH required unless `path_optional`; `option` names the flag
/// in the error.
std::expected<void, std::string> parse_range(const std::string& option, const std::string& text, bool path_optional,
                                             workbench::plan_request& r) {
  const auto eq = text.find('=');
  const auto dots = text.find("..", eq == std::string::npos ? 0 : eq);
  const std::size_t start = eq == std::string::npos ? 0 : eq + 1;
  const auto from = dots == std::string::npos ? std::nullopt : parse_number<std::int64_t>(std::string_view(text).substr(start, dots - start));
  const auto to = dots == std::string::npos ? std::nullopt : parse_number<std::int64_t>(std::string_view(text).substr(dots + 2));
  if (eq == 0 || (eq == std::string::npos && !path_optional) || !from || !to || *from > *to || *from < 0) {
    return std::unexpected(fmt::format("{} '{}': expected {} with integers, 0 <= FROM <= TO", option, text,
                                       path_optional ? "[PATH=]FROM..TO" : "PATH=FROM..TO"));
  }
  if (eq != std::string::npos) r.path = text.substr(0, eq);
  r.from = *from;
  r.to = *to;
  return {};
}

std::expected<workbench::plan_request, std::string> parse_request(const plan_options& o) {
  workbench::plan_request r{.file = o.file, .max_replications = o.max_replications};
  if (o.minimize.empty() == o.max_rate.empty()) return std::unexpected("give one of --minimize and --max-rate");
  r.maximize = !o.max_rate.empty();
  if (r.maximize) r.path = "arrivals.rate";
  if (auto ok = r.maximize ? parse_range("--max-rate", o.max_rate, true, r) : parse_range("--minimize", o.minimize, false, r);
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

std::string shown(const std::string& metric, double v) {
  return is_time_metric(metric.substr(metric.find('.') + 1)) ? fmt::format("{:.4g} ms", v * 1e3) : fmt::format("{:.4g}", v);
}

std::string describe(const workbench::plan_request& r, const workbench::probe& p) {
  std::string out = fmt::format("{}={}: {} ({} replications)", r.path, p.value, workbench::to_string(p.outcome), p.replications);
  for (std::size_t i = 0; i < p.checks.size(); ++i) {
    const auto& o = r.objectives[i];
    out += fmt::format("\n    {} = {} ± {}: {} {}", o.metric, shown(o.metric, p.checks[i].mean),
                       shown(o.metric, p.checks[i].ci95), workbench::to_string(p.checks[i].outcome), o.text);
  }
  return out;
}

nlohmann::json to_json(const workbench::plan_request& r, const workbench::plan_result& result) {
  auto probe_json = [&](const workbench::probe& p) {
    nlohmann::json checks = nlohmann::json::array();
    for (std::size_t i = 0; i < p.checks.size(); ++i) {
      checks.push_back({{"slo", r.objectives[i].text}, {"mean", p.checks[i].mean}, {"ci95", p.checks[i].ci95},
                        {"verdict", workbench::to_string(p.checks[i].outcome)}});
    }
    return nlohmann::json{{"value", p.value}, {"replications", p.replications},
                          {"verdict", workbench::to_string(p.outcome)}, {"checks", checks}};
  };
  nlohmann::json probes = nlohmann::json::array();
  nlohmann::json at_answer, neighbour;
  for (const auto& p : result.probes) {
    probes.push_back(probe_json(p));
    if (result.answer && p.value == *result.answer) at_answer = probe_json(p);
    if (result.neighbour && p.value == *result.neighbour) neighbour = probe_json(p);
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

void print_answer(const workbench::plan_request& r, const workbench::plan_result& result) {
  if (result.answer) {
    fmt::print("answer: {}={}: the {} value in {}..{} for which every objective holds at 95% confidence\n", r.path,
               *result.answer, r.maximize ? "largest" : "smallest", r.from, r.to);
  } else {
    fmt::print("answer: none: at {}={} an objective is missed or cannot be told apart from its bound\n", r.path,
               r.maximize ? r.from : r.to);
  }
  for (const auto& p : result.probes) {
    if (result.neighbour && p.value == *result.neighbour) {
      fmt::print("  {} it, {}\n", r.maximize ? "above" : "below", describe(r, p));
    }
  }
  if (!result.monotonicity.empty()) fmt::print("  {}\n", result.monotonicity);
  if (const auto& t = result.theory) {
    const auto& metric = r.objectives.front().metric;
    fmt::print("prediction ({}, stable from c = {}): {}", t->model, t->stable_from,
               t->answer ? fmt::format("c = {}", *t->answer) : std::string("none in the range"));
    for (const auto& [c, v] : t->values) fmt::print("; c = {}: {} = {}", c, metric, shown(metric, v));
    fmt::print("\n");
  }
}

int run_plan(const plan_options& o) {
  auto request = parse_request(o);
  if (!request) {
    fmt::print(stderr, "mqlab plan: {}\n", request.error());
    return 2;
  }
  auto result = workbench::plan(*request, [&](const workbench::probe& p) {
    if (!o.json) fmt::print("probe {}\n", describe(*request, p));
    std::fflush(stdout);
  });
  if (!result) {
    fmt::print(stderr, "mqlab plan: {}\n", result.error());
    return 2;
  }
  if (o.json) fmt::print("{}\n", to_json(*request, *result).dump(2));
  else print_answer(*request, *result);
  return result->answer ? 0 : 1;
}

}  // namespace

void add_plan_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<plan_options>();
  auto* cmd = app.add_subcommand("plan", "Find the smallest value of a field for which every SLO holds");
  cmd->add_option("file", o->file, "Scenario file")->required();
  auto* minimize = cmd->add_option("--minimize", o->minimize, "PATH=FROM..TO: the integer field to minimise, e.g. "
                                                              "variants.main.consumers.count=1..32");
  cmd->add_option("--max-rate", o->max_rate,
                  "[PATH=]FROM..TO: the highest offered rate (per second; default field arrivals.rate) that meets "
                  "every SLO")
      ->excludes(minimize);
  cmd->add_option("--slo", o->slos, "METRIC<=VALUE (or <, >=, >, ==), e.g. 'main.e2e.p99<=110ms' (repeatable)")->required();
  cmd->add_option("--max-replications", o->max_replications,
                  "Replications a probe may grow to before it says it cannot tell")
      ->check(CLI::Range(2, 1024))->capture_default_str();
  cmd->add_option("--set", o->sets, "Override a field for every probe, as for run");
  cmd->add_flag("--json", o->json, "Print one JSON object: answer, probes, confidence, prediction");
  cmd->callback([o, &exit_code] { exit_code = run_plan(*o); });
}

}  // namespace mqlab::cli
