// Sampling by inversion where a closed form exists; moments from the textbook formulas.
#include "sim/distribution.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include <fmt/format.h>

namespace mqlab::sim {
namespace {

double std_normal(rng& r) {
  // Box–Muller; one of the pair is dropped so a sample costs the same whatever came before.
  const double u1 = r.uniform01();
  const double u2 = r.uniform01();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double exp_sample(rng& r, double mean) { return mean * r.exponential(); }

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
// Clang before 17 deduces no aggregate's arguments by itself (the fuzz build uses clang 16).
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace

distribution distribution::constant(double value) { return distribution(constant_p{value}); }
distribution distribution::exponential(double mean) { return distribution(exponential_p{mean}); }
distribution distribution::uniform(double low, double high) { return distribution(uniform_p{low, high}); }
distribution distribution::normal(double mean, double stddev, double floor) {
  return distribution(normal_p{mean, stddev, floor});
}
distribution distribution::lognormal(double mean, double cv) {
  const double sigma2 = std::log1p(cv * cv);
  return distribution(lognormal_p{std::log(mean) - sigma2 / 2, std::sqrt(sigma2)});
}
distribution distribution::erlang(int k, double mean) { return distribution(erlang_p{k, mean / k}); }
distribution distribution::hyperexponential(double mean, double cv) {
  // Balanced means (p1*m1 = p2*m2), the usual two-moment fit (Whitt 1982).
  const double c2 = cv * cv;
  const double p1 = 0.5 * (1.0 + std::sqrt((c2 - 1.0) / (c2 + 1.0)));
  return distribution(hyperexp_p{p1, mean / (2 * p1), mean / (2 * (1 - p1))});
}
distribution distribution::pareto(double alpha, double scale) { return distribution(pareto_p{alpha, scale}); }
distribution distribution::zipf(std::int64_t n, double s) {
  std::vector<double> cdf(static_cast<std::size_t>(n));
  double total = 0;
  for (std::int64_t k = 1; k <= n; ++k) {
    total += 1.0 / std::pow(static_cast<double>(k), s);
    cdf[static_cast<std::size_t>(k - 1)] = total;
  }
  for (auto& c : cdf) c /= total;
  return distribution(zipf_p{std::move(cdf), s});
}
distribution distribution::empirical(std::vector<double> values) { return distribution(empirical_p{std::move(values)}); }

std::expected<distribution, std::string> distribution::empirical_from_csv(const std::string& path,
                                                                          std::string_view column) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("{}: cannot open file", path));
  std::string line;
  if (!std::getline(in, line)) return std::unexpected(fmt::format("{}:1: empty file, expected a header line", path));
  std::vector<std::string> header;
  for (std::stringstream ss(line); std::getline(ss, header.emplace_back(), ',');) {}
  header.pop_back();
  auto it = std::find(header.begin(), header.end(), column);
  if (it == header.end()) return std::unexpected(fmt::format("{}:1: no column '{}'", path, column));
  const auto index = static_cast<std::size_t>(it - header.begin());
  std::vector<double> values;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    std::stringstream ss(line);
    std::string cell;
    for (std::size_t i = 0; i <= index && std::getline(ss, cell, ','); ++i) {}
    double v = 0;
    auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
    if (ec != std::errc() || end != cell.data() + cell.size()) {
      return std::unexpected(fmt::format("{}:{}: '{}' in column '{}' is not a number", path, line_no, cell, column));
    }
    values.push_back(v);
  }
  if (values.empty()) return std::unexpected(fmt::format("{}: column '{}' has no values", path, column));
  return empirical(std::move(values));
}

double distribution::sample(rng& r) const {
  return std::visit(
      overloaded{
          [](const constant_p& p) { return p.value; },
          [&](const exponential_p& p) { return exp_sample(r, p.mean); },
          [&](const uniform_p& p) { return p.low + (p.high - p.low) * r.uniform01(); },
          [&](const normal_p& p) {
            for (;;) {
              const double x = p.mean + p.stddev * std_normal(r);
              if (x >= p.floor) return x;
            }
          },
          [&](const lognormal_p& p) { return std::exp(p.mu + p.sigma * std_normal(r)); },
          [&](const erlang_p& p) {
            // One log per 64 uniforms: fewer logs than one each, and no product of hundreds of
            // them underflowing to 0 (whose log would be -inf).
            double product = 1.0, logs = 0.0;
            for (int i = 0; i < p.k; ++i) {
              product *= r.uniform01();
              if ((i & 63) == 63) {
                logs += std::log(product);
                product = 1.0;
              }
            }
            return -p.phase_mean * (logs + std::log(product));
          },
          [&](const hyperexp_p& p) { return exp_sample(r, r.uniform01() < p.p1 ? p.mean1 : p.mean2); },
          [&](const pareto_p& p) { return p.scale / std::pow(r.uniform01(), 1.0 / p.alpha); },
          [&](const zipf_p& p) {
            const double u = r.uniform01();
            return static_cast<double>(std::lower_bound(p.cdf.begin(), p.cdf.end(), u) - p.cdf.begin() + 1);
          },
          [&](const empirical_p& p) { return p.values[r.below(p.values.size())]; },
      },
      p_);
}

double distribution::mean() const {
  return std::visit(
      overloaded{
          [](const constant_p& p) { return p.value; },
          [](const exponential_p& p) { return p.mean; },
          [](const uniform_p& p) { return (p.low + p.high) / 2; },
          [](const normal_p& p) {
            // Mean of the normal truncated below at floor: mu + sigma * phi(a) / (1 - Phi(a)).
            const double a = (p.floor - p.mean) / p.stddev;
            const double tail = 0.5 * std::erfc(a / std::numbers::sqrt2);
            const double pdf = std::exp(-a * a / 2) / std::sqrt(2 * std::numbers::pi);
            return p.mean + p.stddev * pdf / tail;
          },
          [](const lognormal_p& p) { return std::exp(p.mu + p.sigma * p.sigma / 2); },
          [](const erlang_p& p) { return p.k * p.phase_mean; },
          [](const hyperexp_p& p) { return p.p1 * p.mean1 + (1 - p.p1) * p.mean2; },
          [](const pareto_p& p) { return p.alpha > 1 ? p.alpha * p.scale / (p.alpha - 1) : INFINITY; },
          [](const zipf_p& p) {
            double m = 0, prev = 0;
            for (std::size_t k = 0; k < p.cdf.size(); ++k) {
              m += static_cast<double>(k + 1) * (p.cdf[k] - prev);
              prev = p.cdf[k];
            }
            return m;
          },
          [](const empirical_p& p) {
            double s = 0;
            for (double v : p.values) s += v;
            return s / static_cast<double>(p.values.size());
          },
      },
      p_);
}

double distribution::variance() const {
  const double m = mean();
  return std::visit(
      overloaded{
          [](const constant_p&) { return 0.0; },
          [](const exponential_p& p) { return p.mean * p.mean; },
          [](const uniform_p& p) { return (p.high - p.low) * (p.high - p.low) / 12; },
          [](const normal_p& p) {
            const double a = (p.floor - p.mean) / p.stddev;
            const double tail = 0.5 * std::erfc(a / std::numbers::sqrt2);
            const double lambda = std::exp(-a * a / 2) / std::sqrt(2 * std::numbers::pi) / tail;
            return p.stddev * p.stddev * (1 + a * lambda - lambda * lambda);
          },
          [m](const lognormal_p& p) { return std::expm1(p.sigma * p.sigma) * m * m; },
          [](const erlang_p& p) { return p.k * p.phase_mean * p.phase_mean; },
          [m](const hyperexp_p& p) {
            const double second = 2 * (p.p1 * p.mean1 * p.mean1 + (1 - p.p1) * p.mean2 * p.mean2);
            return second - m * m;
          },
          [](const pareto_p& p) {
            return p.alpha > 2 ? p.scale * p.scale * p.alpha / ((p.alpha - 1) * (p.alpha - 1) * (p.alpha - 2))
                               : INFINITY;
          },
          [m](const zipf_p& p) {
            double second = 0, prev = 0;
            for (std::size_t k = 0; k < p.cdf.size(); ++k) {
              const double x = static_cast<double>(k + 1);
              second += x * x * (p.cdf[k] - prev);
              prev = p.cdf[k];
            }
            return second - m * m;
          },
          [m](const empirical_p& p) {
            double s = 0;
            for (double v : p.values) s += (v - m) * (v - m);
            return s / static_cast<double>(p.values.size());
          },
      },
      p_);
}

bool distribution::memoryless() const {
  if (std::holds_alternative<exponential_p>(p_)) return true;
  const auto* e = std::get_if<erlang_p>(&p_);
  return e != nullptr && e->k == 1;
}

std::string distribution::describe() const {
  return std::visit(
      overloaded{
          [](const constant_p& p) { return fmt::format("const({:g})", p.value); },
          [](const exponential_p& p) { return fmt::format("exp(mean={:g})", p.mean); },
          [](const uniform_p& p) { return fmt::format("uniform({:g}, {:g})", p.low, p.high); },
          [](const normal_p& p) { return fmt::format("normal({:g}, {:g}, floor={:g})", p.mean, p.stddev, p.floor); },
          [this](const lognormal_p&) { return fmt::format("lognormal(mean={:g}, cv={:g})", mean(), std::sqrt(scv())); },
          [](const erlang_p& p) { return fmt::format("erlang(k={}, mean={:g})", p.k, p.k * p.phase_mean); },
          [this](const hyperexp_p&) { return fmt::format("hyperexp(mean={:g}, cv={:g})", mean(), std::sqrt(scv())); },
          [](const pareto_p& p) { return fmt::format("pareto(alpha={:g}, scale={:g})", p.alpha, p.scale); },
          [](const zipf_p& p) { return fmt::format("zipf(n={}, s={:g})", p.cdf.size(), p.s); },
          [](const empirical_p& p) { return fmt::format("empirical({} values)", p.values.size()); },
      },
      p_);
}

std::expected<distribution, std::string> parse_distribution(std::string_view spec, double mean) {
  const auto colon = spec.find(':');
  const std::string_view name = spec.substr(0, colon);
  double param = 0;
  const bool has_param = colon != std::string_view::npos;
  if (has_param) {
    const auto text = spec.substr(colon + 1);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), param);
    if (ec != std::errc() || end != text.data() + text.size() || !(param > 0)) {
      return std::unexpected(fmt::format("'{}': the parameter after ':' must be a positive number", spec));
    }
  }
  auto needs = [&](std::string_view what) -> std::expected<void, std::string> {
    if (!has_param) return std::unexpected(fmt::format("'{}': {} needs a parameter, e.g. {}:{}", spec, name, name, what));
    return {};
  };
  if (name == "exp" && !has_param) return distribution::exponential(mean);
  if (name == "const" && !has_param) return distribution::constant(mean);
  if (name == "erlang") {
    if (auto ok = needs("2"); !ok) return std::unexpected(ok.error());
    if (param != std::floor(param) || param > max_erlang_k) {
      return std::unexpected(fmt::format("'{}': Erlang K must be an integer from 1 to {}", spec, max_erlang_k));
    }
    return distribution::erlang(static_cast<int>(param), mean);
  }
  if (name == "lognormal") {
    if (auto ok = needs("0.5"); !ok) return std::unexpected(ok.error());
    return distribution::lognormal(mean, param);
  }
  if (name == "hyperexp") {
    if (auto ok = needs("2"); !ok) return std::unexpected(ok.error());
    if (param < 1) return std::unexpected(fmt::format("'{}': hyperexponential CV must be >= 1", spec));
    return distribution::hyperexponential(mean, param);
  }
  if (name == "uniform") {
    if (auto ok = needs("0.5"); !ok) return std::unexpected(ok.error());
    if (param > 1) return std::unexpected(fmt::format("'{}': uniform spread must be <= 1", spec));
    return distribution::uniform(mean * (1 - param), mean * (1 + param));
  }
  return std::unexpected(fmt::format(
      "unknown distribution '{}' (use exp, const, erlang:K, lognormal:CV, hyperexp:CV, uniform:SPREAD)", spec));
}

}  // namespace mqlab::sim
