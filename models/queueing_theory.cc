// Textbook formulas (Gross & Harris, "Fundamentals of Queueing Theory", ch. 2–6).
#include "models/queueing_theory.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace mqlab::models {

double erlang_b(int servers, double a) {
  double b = 1.0;  // the recursion B(n) = a B(n-1) / (n + a B(n-1)) is stable for large c
  for (int n = 1; n <= servers; ++n) b = a * b / (n + a * b);
  return b;
}

double erlang_c(int servers, double a) {
  const double b = erlang_b(servers, a);
  return servers * b / (servers - a * (1 - b));
}

queue_measures mm1(double lambda, double mu) { return mmc(lambda, mu, 1); }

queue_measures mmc(double lambda, double mu, int servers) {
  const double a = lambda / mu;
  queue_measures m;
  m.wait_mean = erlang_c(servers, a) / (servers * mu - lambda);
  m.response_mean = m.wait_mean + 1.0 / mu;
  m.queue_length = lambda * m.wait_mean;
  m.utilization = a / servers;
  // P(Wq > t) = C(c, a) e^{-(cμ - λ) t}: an atom at 0 of mass 1 - C, then an exponential tail.
  const double wait_prob = erlang_c(servers, a);
  const double decay = servers * mu - lambda;
  m.wait_quantile = [wait_prob, decay](double q) {
    return q <= 1 - wait_prob ? 0.0 : std::log(wait_prob / (1 - q)) / decay;
  };
  // P(T > t) = e^{-μt} (1 + C (1 - e^{-μ k t}) / k) with k = c - 1 - a (Gross & Harris; the limit
  // k -> 0 is e^{-μt} (1 + C μ t)); for c = 1 it is M/M/1's e^{-(μ-λ)t}.
  const double k = servers - 1 - a;
  auto tail = [=](double t) {
    const double rest = std::fabs(k) < 1e-9 ? wait_prob * mu * t : wait_prob * -std::expm1(-mu * k * t) / k;
    return std::exp(-mu * t) * (1 + rest);
  };
  m.response_quantile = [tail, mu](double q) {
    double hi = 1 / mu;
    while (tail(hi) > 1 - q) hi *= 2;
    double lo = 0;
    for (int i = 0; i < 100; ++i) {
      const double mid = (lo + hi) / 2;
      (tail(mid) > 1 - q ? lo : hi) = mid;
    }
    return hi;
  };
  return m;
}

queue_measures mg1(double lambda, double mean_service, double scv) {
  const double rho = lambda * mean_service;
  queue_measures m;
  m.wait_mean = rho * (1 + scv) / (2 * (1 - rho)) * mean_service;
  m.response_mean = m.wait_mean + mean_service;
  m.queue_length = lambda * m.wait_mean;
  m.utilization = rho;
  return m;
}

queue_measures mmck(double lambda, double mu, int servers, std::uint64_t capacity) {
  // State probabilities in log space: p_n ∝ a^n / (n! for n < c, c! c^(n-c) for n >= c).
  const double a = lambda / mu;
  std::vector<double> log_terms(capacity + 1);
  for (std::uint64_t n = 1; n <= capacity; ++n) {
    const double divisor = static_cast<double>(std::min<std::uint64_t>(n, static_cast<std::uint64_t>(servers)));
    log_terms[n] = log_terms[n - 1] + std::log(a / divisor);
  }
  double peak = log_terms[0];
  for (double t : log_terms) peak = std::max(peak, t);
  double total = 0;
  for (double t : log_terms) total += std::exp(t - peak);
  auto p = [&](std::uint64_t n) { return std::exp(log_terms[n] - peak) / total; };

  queue_measures m;
  m.block_prob = p(capacity);
  for (std::uint64_t n = static_cast<std::uint64_t>(servers); n <= capacity; ++n) {
    m.queue_length += static_cast<double>(n - static_cast<std::uint64_t>(servers)) * p(n);
  }
  const double admitted = lambda * (1 - m.block_prob);
  m.wait_mean = m.queue_length / admitted;
  m.response_mean = m.wait_mean + 1.0 / mu;
  m.utilization = admitted / (servers * mu);
  return m;
}

std::optional<queue_measures> exact_theory(double lambda, const sim::distribution& service, int servers,
                                           std::uint64_t capacity) {
  const double mu = 1.0 / service.mean();
  if (capacity != 0) {
    if (service.memoryless()) return mmck(lambda, mu, servers, capacity);
    return std::nullopt;
  }
  if (lambda >= servers * mu) return std::nullopt;  // unstable: no steady state
  if (service.memoryless()) return mmc(lambda, mu, servers);
  if (servers == 1) return mg1(lambda, service.mean(), service.scv());
  return std::nullopt;
}

namespace {

std::string service_letter(const sim::distribution& service) {
  if (service.memoryless()) return "M";
  if (service.scv() == 0) return "D";
  if (service.describe().starts_with("erlang")) return fmt::format("E{}", std::lround(1.0 / service.scv()));
  return "G";
}

}  // namespace

std::string kendall(const sim::distribution& service, int servers, std::uint64_t capacity) {
  if (capacity == 0) return fmt::format("M/{}/{}", service_letter(service), servers);
  return fmt::format("M/{}/{}/{}", service_letter(service), servers, capacity);
}

}  // namespace mqlab::models
