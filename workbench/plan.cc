// The capacity planner's objectives, probes, bisection and queueing-theory prediction.
#include "workbench/plan.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "models/queueing_theory.h"
#include "workbench/number.h"
#include "workbench/runner.h"
#include "workbench/yaml_reader.h"

namespace mqlab::workbench {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

/// Significant at 95% when the whole confidence interval lies on one side of the bound.
verdict judge(const slo& o, const metric_value& m) {
  const double lo = m.mean - m.ci95, hi = m.mean + m.ci95, b = o.bound;
  switch (o.relation) {
    case slo::op::le: return hi <= b ? verdict::meets : lo > b ? verdict::misses : verdict::cannot_tell;
    case slo::op::lt: return hi < b ? verdict::meets : lo >= b ? verdict::misses : verdict::cannot_tell;
    case slo::op::ge: return lo >= b ? verdict::meets : hi < b ? verdict::misses : verdict::cannot_tell;
    case slo::op::gt: return lo > b ? verdict::meets : hi <= b ? verdict::misses : verdict::cannot_tell;
    case slo::op::eq:
      if (m.ci95 == 0 && m.mean == b) return verdict::meets;
      return lo > b || hi < b ? verdict::misses : verdict::cannot_tell;
  }
  return verdict::cannot_tell;
}

verdict combine(const std::vector<slo_check>& checks) {
  bool all_meet = true;
  for (const auto& c : checks) {
    if (c.outcome == verdict::misses) return verdict::misses;
    all_meet = all_meet && c.outcome == verdict::meets;
  }
  return all_meet ? verdict::meets : verdict::cannot_tell;
}

class planner {
 public:
  planner(const plan_request& r, int first_replications, const std::function<void(const probe&)>& on_probe)
      : request_(r), first_replications_(first_replications), on_probe_(on_probe) {
    // Only the variants the objectives name are run.
    for (const auto& o : r.objectives) {
      const std::string name = o.metric.substr(0, o.metric.find('.'));
      if (std::find(named_.begin(), named_.end(), name) == named_.end()) named_.push_back(name);
    }
  }

  /// The probe at `value`, run once.
  std::expected<const probe*, std::string> at(std::int64_t value) {
    if (auto it = probes_.find(value); it != probes_.end()) return &it->second;
    for (int r = first_replications_;; r = std::min(2 * r, request_.max_replications)) {
      auto p = run(value, r);
      if (!p) return std::unexpected(p.error());
      if (p->outcome != verdict::cannot_tell || r >= request_.max_replications) {
        order_.push_back(value);
        if (on_probe_) on_probe_(*p);
        return &probes_.emplace(value, std::move(*p)).first->second;
      }
    }
  }
  /// A probe run elsewhere (by a shard), as if run here.
  void record(probe p) {
    order_.push_back(p.value);
    probes_.emplace(p.value, std::move(p));
  }
  std::vector<probe> in_order() const {
    std::vector<probe> out;
    for (const auto v : order_) out.push_back(probes_.at(v));
    return out;
  }
  /// Where a value on the harder side of one that missed met the objectives (both
  /// significantly): more of the resource (or less load) made things worse.
  std::string contradictions(bool maximize) const {
    // From the hard end towards the easy one: after a value that met, none should miss.
    std::vector<std::pair<std::int64_t, verdict>> walk;
    for (const auto& [value, p] : probes_) walk.emplace_back(value, p.outcome);
    if (maximize) std::reverse(walk.begin(), walk.end());
    std::optional<std::int64_t> met;
    for (const auto& [value, outcome] : walk) {
      if (outcome == verdict::meets && !met) met = value;
      if (outcome == verdict::misses && met) {
        return fmt::format("not monotone: {} meets every objective but {} misses one; the answer assumes that "
                           "more never hurts, and values beyond it may also meet them",
                           *met, value);
      }
    }
    return {};
  }

 private:
  std::expected<probe, std::string> run(std::int64_t value, int replications) {
    overrides sets = request_.sets;
    sets.emplace_back(request_.path, std::to_string(value));
    sets.emplace_back("replications", std::to_string(replications));
    auto sc = load_scenario(request_.file, sets);
    if (!sc) return std::unexpected(fmt::format("with {}={}:\n{}", request_.path, value, sc.error().format(request_.file)));
    if (auto kept = keep_variants(*sc, named_); !kept) return std::unexpected(fmt::format("--slo: {}", kept.error()));
    const run_result result = run_scenario(*sc, {}, request_.cancel);
    if (request_.cancel != nullptr && *request_.cancel) return std::unexpected("cancelled");
    probe p{value, replications, verdict::cannot_tell, {}};
    for (const auto& o : request_.objectives) {
      const metric_value* m = find_metric(result.variants, o.metric);
      if (m == nullptr) return std::unexpected(fmt::format("--slo '{}': the run has no metric {}", o.text, o.metric));
      p.checks.push_back({m->mean, m->ci95, judge(o, *m)});
    }
    p.outcome = combine(p.checks);
    return p;
  }

  const plan_request& request_;
  int first_replications_;
  std::function<void(const probe&)> on_probe_;
  std::vector<std::string> named_;  // the variants the objectives name
  std::map<std::int64_t, probe> probes_;
  std::vector<std::int64_t> order_;
};

/// The first objective's metric under M/M/c with c consumers: e2e.mean or e2e.pNN, the
/// request's publish cost included; nullopt for other metrics.
std::optional<double> predicted(const slo& o, double cost, const models::queue_measures& m) {
  const std::string key = o.metric.substr(o.metric.find('.') + 1);
  if (key == "e2e.mean") return cost + m.response_mean;
  if (!key.starts_with("e2e.p")) return std::nullopt;
  const auto percent = parse_number<double>(std::string_view(key).substr(5));
  if (!percent || !(*percent > 0 && *percent < 100)) return std::nullopt;
  return cost + m.response_quantile(*percent / 100);
}

bool holds(const slo& o, double v) {
  return judge(o, metric_value{v, 0}) == verdict::meets;
}

/// M/M/c when the field is a consumer count, arrivals are Poisson and a consumer's work is
/// one exponential delay.
std::optional<prediction> mmc_prediction(const plan_request& request, const scenario& sc,
                                         std::optional<std::int64_t> answer) {
  if (!request.path.ends_with("consumers.count") || request.objectives.empty()) return std::nullopt;
  const slo& first = request.objectives.front();
  for (const auto& v : sc.variants) {
    if (v.name != first.metric.substr(0, first.metric.find('.'))) continue;
    const auto& s = v.system;
    if (!s.arrivals || !s.arrivals->poisson() || s.consumers.size() != 1 || s.consumers[0].work.size() != 1) return std::nullopt;
    const auto* work = std::get_if<models::delay_step>(&s.consumers[0].work[0].step);
    if (work == nullptr || !models::kendall(work->time, 1, 0).starts_with("M/M/")) return std::nullopt;
    double cost = 0;
    for (const auto& step : s.request) {
      if (const auto* publish = std::get_if<models::publish_step>(&step.step)) cost += publish->cost.seconds();
    }
    prediction p;
    p.lambda = s.arrivals->mean_rate();
    p.mu = 1 / work->time.mean();
    p.model = fmt::format("M/M/c with λ = {:g}/s, μ = {:g}/s per consumer", p.lambda, p.mu);
    p.stable_from = static_cast<std::int64_t>(std::floor(p.lambda / p.mu)) + 1;
    std::map<std::int64_t, double> values;
    for (std::int64_t c = std::max(p.stable_from, request.from); c <= request.to; ++c) {
      const auto value = predicted(first, cost, models::mmc(p.lambda, p.mu, static_cast<int>(c)));
      if (!value) break;
      values[c] = *value;
      if (!p.answer && holds(first, *value)) p.answer = c;
    }
    auto near = [](std::optional<std::int64_t> a, std::int64_t c) { return a && c >= *a - 1 && c <= *a + 1; };
    for (const auto& [c, value] : values) {
      if (near(p.answer, c) || near(answer, c)) p.values.emplace_back(c, value);
    }
    return p;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(verdict v) {
  switch (v) {
    case verdict::meets: return "meets";
    case verdict::misses: return "misses";
    case verdict::cannot_tell: return "cannot tell";
  }
  return "";
}

std::expected<void, std::string> parse_range(std::string_view option, const std::string& text, bool path_optional,
                                             plan_request& r) {
  const auto eq = text.find('=');
  const auto dots = text.find("..", eq == std::string::npos ? 0 : eq);
  const auto colon = dots == std::string::npos ? std::string::npos : text.find(':', dots);
  const std::size_t start = eq == std::string::npos ? 0 : eq + 1;
  const std::string_view view(text);
  const auto integer = parse_number<std::int64_t>;
  const auto from = dots == std::string::npos ? std::nullopt : integer(view.substr(start, dots - start));
  const auto to = dots == std::string::npos ? std::nullopt : integer(view.substr(dots + 2, colon == std::string::npos ? colon : colon - dots - 2));
  const auto step = colon == std::string::npos ? std::optional<std::int64_t>(1) : integer(view.substr(colon + 1));
  if (eq == 0 || (eq == std::string::npos && !path_optional) || !from || !to || !step || *from > *to || *from < 0 || *step < 1) {
    return std::unexpected(fmt::format("{} '{}': expected {} with integers, 0 <= FROM <= TO, STEP >= 1", option, text,
                                       path_optional ? "[PATH=]FROM..TO[:STEP]" : "PATH=FROM..TO[:STEP]"));
  }
  if (eq != std::string::npos) r.path = text.substr(0, eq);
  r.from = *from;
  r.to = *to;
  r.step = *step;
  return {};
}

std::expected<slo, std::string> parse_slo(std::string_view text) {
  static constexpr std::pair<std::string_view, slo::op> relations[] = {
      {"<=", slo::op::le}, {">=", slo::op::ge}, {"==", slo::op::eq}, {"<", slo::op::lt}, {">", slo::op::gt}};
  for (const auto& [token, relation] : relations) {
    const auto at = text.find(token);
    if (at == std::string_view::npos) continue;
    const std::string metric(trim(text.substr(0, at)));
    const std::string value(trim(text.substr(at + token.size())));
    if (metric.find('.') == std::string::npos || metric.front() == '.') {
      return std::unexpected(fmt::format("--slo '{}': the metric must be VARIANT.KEY, e.g. main.e2e.p99", text));
    }
    diagnostics ignored;
    const auto bound = yaml_reader(ignored).quantity(YAML::Node(value), "bound");
    if (!bound) return std::unexpected(fmt::format("--slo '{}': '{}' is not a number, a duration or a rate", text, value));
    return slo{metric, relation, *bound, std::string(text)};
  }
  return std::unexpected(fmt::format("--slo '{}': expected METRIC<=VALUE (or <, >=, >, ==)", text));
}

namespace {

/// The scenario at the grid's first value (for the replications a probe starts with and for the
/// prediction), and a planner over the request.
struct search_start {
  scenario base;
  planner search;
};

std::expected<search_start, std::string> start(const plan_request& request,
                                               const std::function<void(const probe&)>& on_probe) {
  if (request.from > request.to || request.step < 1) {
    return std::unexpected(fmt::format("the range {}..{}:{} is empty", request.from, request.to, request.step));
  }
  overrides first = request.sets;
  first.emplace_back(request.path, std::to_string(request.from));
  auto base = load_scenario(request.file, first);
  if (!base) return std::unexpected(fmt::format("with {}={}:\n{}", request.path, request.from, base.error().format(request.file)));
  const int replications = std::clamp(base->replications, 2, request.max_replications);
  return search_start{std::move(*base), planner(request, replications, on_probe)};
}

std::string shown(const std::string& metric, double v) {
  return is_time_metric(metric.substr(metric.find('.') + 1)) ? fmt::format("{:.4g} ms", v * 1e3) : fmt::format("{:.4g}", v);
}

}  // namespace

std::string describe(const plan_request& r, const probe& p) {
  std::string out = fmt::format("{}={}: {} ({} replications)", r.path, p.value, to_string(p.outcome), p.replications);
  for (std::size_t i = 0; i < p.checks.size() && i < r.objectives.size(); ++i) {
    const auto& o = r.objectives[i];
    out += fmt::format("\n    {} = {} ± {}: {} {}", o.metric, shown(o.metric, p.checks[i].mean), shown(o.metric, p.checks[i].ci95),
                       to_string(p.checks[i].outcome), o.text);
  }
  return out;
}

std::string summary(const plan_request& r, const plan_result& result) {
  std::string out = result.answer ? fmt::format("answer: {}={}: the {} value in {}..{} for which every objective holds at "
                                                "95% confidence\n",
                                                r.path, *result.answer, r.maximize ? "largest" : "smallest", r.from, r.to)
                                  : fmt::format("answer: none: at {}={} an objective is missed or cannot be told apart from "
                                                "its bound\n",
                                                r.path, r.maximize ? r.from : r.to);
  for (const auto& p : result.probes) {
    if (result.neighbour && p.value == *result.neighbour) out += fmt::format("  {} it, {}\n", r.maximize ? "above" : "below", describe(r, p));
  }
  if (!result.monotonicity.empty()) out += fmt::format("  {}\n", result.monotonicity);
  if (const auto& t = result.theory) {
    const auto& metric = r.objectives.front().metric;
    out += fmt::format("prediction ({}, stable from c = {}): {}", t->model, t->stable_from,
                       t->answer ? fmt::format("c = {}", *t->answer) : std::string("none in the range"));
    for (const auto& [c, v] : t->values) out += fmt::format("; c = {}: {} = {}", c, metric, shown(metric, v));
    out += "\n";
  }
  return out;
}

std::vector<std::int64_t> grid(const plan_request& request) {
  std::vector<std::int64_t> values;
  for (std::int64_t v = request.from; v <= request.to && request.step > 0; v += request.step) values.push_back(v);
  return values;
}

std::expected<plan_result, std::string> plan(const plan_request& request, const std::function<void(const probe&)>& on_probe) {
  auto started = start(request, on_probe);
  if (!started) return std::unexpected(started.error());
  planner& search = started->search;
  const std::vector<std::int64_t> values = grid(request);
  plan_result result;
  // The end of the grid where the objectives are likeliest to hold must hold them.
  auto end = search.at(request.maximize ? values.front() : values.back());
  if (!end) return std::unexpected(end.error());
  if ((*end)->outcome == verdict::meets) {
    std::size_t lo = 0, hi = values.size() - 1;  // the answer's index lies in [lo, hi]; the easy end meets
    while (lo < hi) {
      const std::size_t mid = request.maximize ? lo + (hi - lo + 1) / 2 : lo + (hi - lo) / 2;
      auto p = search.at(values[mid]);
      if (!p) return std::unexpected(p.error());
      const bool meets = (*p)->outcome == verdict::meets;
      if (request.maximize) {
        if (meets) lo = mid;
        else hi = mid - 1;
      } else {
        if (meets) hi = mid;
        else lo = mid + 1;
      }
    }
    result.answer = values[lo];
    const std::size_t next = request.maximize ? lo + 1 : lo - 1;  // wraps past the start when lo is 0
    if (next < values.size()) result.neighbour = values[next];
  }
  result.probes = search.in_order();
  result.monotonicity = search.contradictions(request.maximize);
  if (!request.maximize) result.theory = mmc_prediction(request, started->base, result.answer);
  return result;
}

std::expected<std::vector<probe>, std::string> probe_slice(const plan_request& request, std::size_t index, std::size_t count,
                                                           const std::function<void(const probe&)>& on_probe) {
  auto started = start(request, on_probe);
  if (!started) return std::unexpected(started.error());
  const std::vector<std::int64_t> values = grid(request);
  for (std::size_t i = index; i < values.size(); i += count) {
    if (auto p = started->search.at(values[i]); !p) return std::unexpected(p.error());
  }
  return started->search.in_order();
}

std::expected<plan_result, std::string> conclude(const plan_request& request, std::vector<probe> probes) {
  const std::vector<std::int64_t> values = grid(request);
  std::sort(probes.begin(), probes.end(), [](const probe& a, const probe& b) { return a.value < b.value; });
  for (std::size_t i = 0; i < std::max(values.size(), probes.size()); ++i) {
    if (i >= values.size() || i >= probes.size() || probes[i].value != values[i]) {
      return std::unexpected(fmt::format("the probes do not cover the grid {}..{}:{} once each: {} is {}", request.from,
                                         request.to, request.step, i < values.size() ? values[i] : probes[i].value,
                                         i < values.size() ? "missing or twice" : "off the grid"));
    }
  }
  auto started = start(request, {});
  if (!started) return std::unexpected(started.error());
  plan_result result;
  // From the easy end towards the hard one, while every value meets.
  const std::size_t n = probes.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = request.maximize ? k : n - 1 - k;
    if (probes[i].outcome != verdict::meets) {
      if (result.answer) result.neighbour = probes[i].value;
      break;
    }
    result.answer = probes[i].value;
  }
  for (auto& p : probes) started->search.record(std::move(p));
  result.probes = started->search.in_order();
  result.monotonicity = started->search.contradictions(request.maximize);
  if (!request.maximize) result.theory = mmc_prediction(request, started->base, result.answer);
  return result;
}

}  // namespace mqlab::workbench
