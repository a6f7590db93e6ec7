// Bisection for the highest rate a variant sustains, one search per replication.
#include "workbench/max_rate.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "sim/statistics.h"

namespace mqlab::workbench {
namespace {

bool is_backlog(const std::string& series) {
  const auto between = [&](std::string_view prefix, std::string_view suffix) {
    return series.starts_with(prefix) && series.ends_with(suffix) && series.size() > prefix.size() + suffix.size();
  };
  return series == "kafka.lag" || series == "jms.backlog" || between("queue.", ".depth") || between("station.", ".queue");
}

double metric(const variant_result& v, const std::string& key) {
  const auto it = v.metrics.find(key);
  return it == v.metrics.end() ? 0 : it->second.mean;
}

class search {
 public:
  search(const max_rate_request& r, const scenario& base, const std::function<void(const rate_probe&)>& on_probe)
      : request_(r), base_(base), on_probe_(on_probe) {}

  /// The highest rate that kept up in replication k.
  std::expected<double, std::string> run(int k) {
    double low = request_.low, high = request_.high;
    auto first = probe(k, low);
    if (!first) return std::unexpected(first.error());
    if (!first->keeps_up) return std::unexpected(fmt::format("the variant does not keep up at the lowest rate, {}/s", low));
    if (high > 0) {
      auto top = probe(k, high);
      if (!top) return std::unexpected(top.error());
      if (top->keeps_up) return std::unexpected(fmt::format("the variant keeps up at the highest rate, {}/s: raise --to", high));
    } else {
      const double ceiling = low * (1 << 20);  // of the starting rate: `low` rises below
      for (high = 2 * low;; high *= 2) {
        if (high > ceiling) return std::unexpected(fmt::format("the variant kept up at every rate up to {}/s", high / 2));
        auto p = probe(k, high);
        if (!p) return std::unexpected(p.error());
        if (!p->keeps_up) break;
        low = high;
      }
    }
    while ((high - low) / low > request_.resolution) {
      const double mid = (low + high) / 2;
      auto p = probe(k, mid);
      if (!p) return std::unexpected(p.error());
      (p->keeps_up ? low : high) = mid;
    }
    return low;
  }

  std::vector<rate_probe> probes;

 private:
  std::expected<rate_probe, std::string> probe(int k, double rate) {
    if (request_.cancel != nullptr && *request_.cancel) return std::unexpected("cancelled");
    overrides sets = request_.sets;
    sets.emplace_back(request_.path, fmt::format("{}/s", rate));
    sets.emplace_back("replications", "1");
    sets.emplace_back("seed", std::to_string(base_.seed + static_cast<std::uint64_t>(k)));
    auto sc = load_scenario(request_.file, sets);
    if (!sc) return std::unexpected(fmt::format("with {}={}/s:\n{}", request_.path, rate, sc.error().format(request_.file)));
    if (auto kept = keep_variants(*sc, {base_.variants.front().name}); !kept) return std::unexpected(kept.error());
    const run_result result = run_scenario(*sc, {}, request_.cancel, {}, request_.mode);
    if (request_.cancel != nullptr && *request_.cancel) return std::unexpected("cancelled");
    const models::system_spec& spec = sc->variants.front().system;
    rate_probe p = judge_rate(result.variants.front(), rate, spec.warmup.seconds(), spec.sample_interval.seconds(),
                              request_.tolerance);
    p.replication = k;
    probes.push_back(p);
    if (on_probe_) on_probe_(p);
    return p;
  }

  const max_rate_request& request_;
  const scenario& base_;
  const std::function<void(const rate_probe&)>& on_probe_;
};

}  // namespace

rate_probe judge_rate(const variant_result& v, double rate, double warmup, double sample_interval, double tolerance) {
  rate_probe p{.rate = rate};
  const double offered = metric(v, "requests");
  p.done_share = offered > 0 ? metric(v, "completed") / offered : 1;
  // Sample k is taken at k x interval: the one at the end of the warmup, or none before it.
  const auto at_warmup = static_cast<std::ptrdiff_t>(std::llround(warmup / sample_interval)) - 1;
  double growth = 0;
  for (const auto& [name, values] : v.series) {
    if (!is_backlog(name) || values.empty()) continue;
    const double before = at_warmup < 0 ? 0 : values[static_cast<std::size_t>(std::min<std::ptrdiff_t>(at_warmup, std::ssize(values) - 1))];
    growth += values.back() - before;
  }
  p.backlog_growth = offered > 0 ? growth / offered : 0;
  p.keeps_up = p.backlog_growth <= tolerance && p.done_share >= 1 - tolerance;
  return p;
}

std::expected<max_rate_result, std::string> find_max_rate(const max_rate_request& request,
                                                          const std::function<void(const rate_probe&)>& on_probe) {
  if (!(request.low > 0) || (request.high != 0 && request.high <= request.low)) {
    return std::unexpected(fmt::format("the rates must satisfy 0 < from < to (got {} and {})", request.low, request.high));
  }
  if (!(request.resolution > 0) || !(request.tolerance > 0) || request.tolerance >= 1) {
    return std::unexpected("--resolution and --tolerance must be above 0 (and the tolerance below 100%)");
  }
  auto base = load_scenario(request.file, request.sets);
  if (!base) return std::unexpected(base.error().format(request.file));
  if (!request.variant.empty()) {
    if (auto kept = keep_variants(*base, {request.variant}); !kept) return std::unexpected(kept.error());
  }
  base->variants.resize(1);
  if (request.mode == run_mode::net) {
    if (auto ok = net_mode_support(*base); !ok) return std::unexpected(ok.error());
  }
  search s(request, *base, on_probe);
  max_rate_result result;
  const int searches = request.mode == run_mode::net ? 1 : std::max(request.replications, 1);
  for (int k = 0; k < searches; ++k) {
    auto best = s.run(k);
    if (!best) return std::unexpected(best.error());
    result.per_replication.push_back(*best);
  }
  result.probes = std::move(s.probes);
  const sim::interval ci = sim::confidence_interval(result.per_replication);
  result.mean = ci.mean;
  result.ci95 = ci.half_width;
  return result;
}

}  // namespace mqlab::workbench
