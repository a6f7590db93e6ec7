// Capacity planning (`mqlab plan`): the smallest value of one integer field of a scenario (a
// consumer count, partitions, nodes) for which every service-level objective holds, found by
// bisection over the range on the assumption that more of the resource never hurts; or, with
// `maximize`, the largest (the highest offered rate the system sustains, assuming more load
// never helps). Each probe
// runs the scenario with as many replications as it takes for every objective's verdict to be
// significant at 95% (the metric's confidence interval lies wholly on one side of the bound),
// doubling them up to a maximum, after which the probe says it cannot tell. Probes that
// contradict the assumption (a larger value failing where a smaller one held) are reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workbench/scenario.h"

namespace mqlab::workbench {

/// "METRIC<=VALUE" (also <, >=, >, ==); VALUE a number, a duration ("110ms", in seconds) or a
/// rate ("400/s").
struct slo {
  std::string metric;
  enum class op { le, lt, ge, gt, eq } relation = op::le;
  double bound = 0;
  std::string text;  // as given
};
std::expected<slo, std::string> parse_slo(std::string_view text);

struct plan_request;

/// "[PATH=]FROM..TO[:STEP]" with integers (PATH required unless `path_optional`) into the
/// request's path (when given), from, to and step; `option` names the flag or key in the error.
std::expected<void, std::string> parse_range(std::string_view option, const std::string& text, bool path_optional,
                                             plan_request& r);

enum class verdict { meets, misses, cannot_tell };
std::string_view to_string(verdict v);

struct slo_check {
  double mean = 0, ci95 = 0;
  verdict outcome = verdict::cannot_tell;
};

struct probe {
  std::int64_t value = 0;
  int replications = 0;
  verdict outcome = verdict::cannot_tell;  // misses if any objective misses, meets if all meet
  std::vector<slo_check> checks;            // one per objective, in order
};

/// The queueing-theory answer where one applies: a consumer count under Poisson arrivals and
/// exponential service is an M/M/c station (Erlang C). The first objective's metric, when it
/// is the station's e2e mean or an e2e quantile (the publish cost, the wait and the service),
/// is predicted for each c and the smallest c that meets the objective is the predicted answer.
struct prediction {
  std::string model;               // "M/M/c", with λ and μ
  double lambda = 0, mu = 0;
  std::int64_t stable_from = 0;    // the smallest c with λ/(cμ) < 1
  std::optional<std::int64_t> answer;
  std::vector<std::pair<std::int64_t, double>> values;  // c -> the predicted metric, near the answers
};

struct plan_request {
  std::string file;
  std::string path;  // the field, e.g. variants.c10.consumers.count
  std::int64_t from = 1, to = 1;
  std::int64_t step = 1;  // the values probed are from, from + step, ... up to to (the grid)
  bool maximize = false;  // the largest value that meets the objectives instead of the smallest
  std::vector<slo> objectives;
  int max_replications = 64;
  overrides sets;  // --set, applied to every probe
  const std::atomic<bool>* cancel = nullptr;  // when it turns true, the probe running stops and the plan fails
};

struct plan_result {
  std::optional<std::int64_t> answer;  // none when no value in the range meets every objective
  std::optional<std::int64_t> neighbour;  // the value next to the answer on the failing side, when probed
  std::vector<probe> probes;           // in the order they ran
  std::string monotonicity;            // empty, or where the probes contradict the assumption
  std::optional<prediction> theory;
};

/// Runs the search; `on_probe` sees each probe as it finishes. Fails (with the reason) on a
/// scenario that does not load with a probed value, or an objective naming an unknown metric.
std::expected<plan_result, std::string> plan(const plan_request& request,
                                             const std::function<void(const probe&)>& on_probe = {});

/// One probe as a line per objective: "PATH=VALUE: verdict (N replications)", then each
/// objective's mean ± 95% interval (times in ms) and verdict.
std::string describe(const plan_request& request, const probe& p);

/// The answer, the neighbour and why it fails, a contradiction to monotonicity and the
/// prediction, as `mqlab plan` prints them (lines ending in newlines).
std::string summary(const plan_request& request, const plan_result& result);

/// The values of the request's grid, in order.
std::vector<std::int64_t> grid(const plan_request& request);

/// A plan spread over shards probes the whole grid instead of bisecting it: this runs the
/// `index`-th of `count` slices (the values whose position in the grid modulo `count` is
/// `index`), each probe to significance as plan() runs it.
std::expected<std::vector<probe>, std::string> probe_slice(const plan_request& request, std::size_t index, std::size_t count,
                                                           const std::function<void(const probe&)>& on_probe = {});

/// The answer from a probe of every value of the grid (in any order): the smallest value from
/// which every larger one meets the objectives (with `maximize`, the largest up to which every
/// smaller one does), its neighbour, contradictions to monotonicity and the prediction.
std::expected<plan_result, std::string> conclude(const plan_request& request, std::vector<probe> probes);

}  // namespace mqlab::workbench
