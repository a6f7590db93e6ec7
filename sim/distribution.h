// Probability distributions for service times, think times, message sizes and keys.
// Values are plain doubles in the caller's unit (seconds for times, bytes for sizes,
// 1..n for Zipf keys). Each distribution knows its mean and variance, so models can
// compare a run against queueing theory.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/random.h"

namespace mqlab::sim {

class distribution {
 public:
  static distribution constant(double value);
  static distribution exponential(double mean);
  static distribution uniform(double low, double high);
  /// Normal(mean, stddev) truncated below at `floor` (by resampling), e.g. 0 for times.
  static distribution normal(double mean, double stddev, double floor = 0.0);
  /// Lognormal with the given mean and coefficient of variation (stddev / mean).
  static distribution lognormal(double mean, double cv);
  /// Erlang-k: sum of k exponentials, overall mean `mean`, CV = 1/sqrt(k).
  /// K phases, each sampled: K is at most max_erlang_k so that one sample stays cheap.
  static distribution erlang(int k, double mean);
  /// Two-phase hyperexponential with balanced means, given mean and CV >= 1.
  static distribution hyperexponential(double mean, double cv);
  /// Pareto (type I) with shape alpha and scale x_m (the minimum).
  static distribution pareto(double alpha, double scale);
  /// Zipf over the integers 1..n with exponent s: P(k) proportional to 1/k^s.
  static distribution zipf(std::int64_t n, double s);
  /// Resamples the given observations uniformly (bootstrap). REQUIRES: non-empty.
  static distribution empirical(std::vector<double> values);
  /// Reads the named column of a CSV file with a header line as an empirical distribution.
  static std::expected<distribution, std::string> empirical_from_csv(const std::string& path,
                                                                     std::string_view column);

  double sample(rng& r) const;
  double mean() const;
  double variance() const;
  /// Squared coefficient of variation, variance / mean^2 (Pollaczek–Khinchine needs it).
  double scv() const { return variance() / (mean() * mean()); }
  /// True for the exponential distribution, where Markovian queueing formulas apply.
  bool memoryless() const;
  /// A short description such as "exp(mean=0.01)".
  std::string describe() const;

 private:
  struct constant_p { double value; };
  struct exponential_p { double mean; };
  struct uniform_p { double low, high; };
  struct normal_p { double mean, stddev, floor; };
  struct lognormal_p { double mu, sigma; };
  struct erlang_p { int k; double phase_mean; };
  struct hyperexp_p { double p1, mean1, mean2; };
  struct pareto_p { double alpha, scale; };
  struct zipf_p { std::vector<double> cdf; double s; };
  struct empirical_p { std::vector<double> values; };
  using params = std::variant<constant_p, exponential_p, uniform_p, normal_p, lognormal_p, erlang_p, hyperexp_p,
                              pareto_p, zipf_p, empirical_p>;

  explicit distribution(params p) : p_(std::move(p)) {}
  params p_;
};

/// The most phases an Erlang distribution may have (a sample draws K uniforms).
inline constexpr int max_erlang_k = 1000;

/// Parses the `mqlab station` style "exp", "const", "erlang:K", "lognormal:CV", "hyperexp:CV",
/// "uniform:SPREAD" (mean +- SPREAD*mean) into a distribution with the given mean.
std::expected<distribution, std::string> parse_distribution(std::string_view spec, double mean);

}  // namespace mqlab::sim
