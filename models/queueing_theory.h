// Closed-form results of queueing theory that the simulator is checked against:
// M/M/1, M/M/c (Erlang C), M/G/1 incl. M/D/1 (Pollaczek–Khinchine), M/M/c/K (blocking).
// Rates are per second, times in seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sim/distribution.h"

namespace mqlab::models {

/// Steady-state measures of one station.
struct queue_measures {
  double wait_mean = 0;       // Wq: time in queue of admitted customers
  double response_mean = 0;   // W = Wq + E[S]
  double queue_length = 0;    // Lq
  double utilization = 0;     // per server, of admitted load
  double block_prob = 0;      // arrivals turned away (finite capacity)
  /// Quantile of the waiting time, 0 < q < 1, where known in closed form (M/M/c), else empty.
  std::function<double(double)> wait_quantile;
  /// Quantile of the time in system (wait + service), where known in closed form (M/M/c).
  std::function<double(double)> response_quantile;
};

/// Erlang B: blocking probability of c servers without a queue at offered load a = λ/μ.
double erlang_b(int servers, double offered_load);
/// Erlang C: probability an arrival waits, c servers, offered load a < c.
double erlang_c(int servers, double offered_load);

queue_measures mm1(double lambda, double mu);
queue_measures mmc(double lambda, double mu, int servers);
/// Pollaczek–Khinchine: Wq = ρ (1 + Cs²) / (2 (1 − ρ)) · E[S]; M/D/1 is Cs² = 0.
queue_measures mg1(double lambda, double mean_service, double service_scv);
/// Finite capacity K (queue + service), exponential service.
queue_measures mmck(double lambda, double mu, int servers, std::uint64_t capacity);

/// Picks the formula that is exact for this station, if any; nullopt when theory is silent
/// (e.g. M/G/c with non-exponential service, or M/G/1/K).
std::optional<queue_measures> exact_theory(double lambda, const sim::distribution& service, int servers,
                                           std::uint64_t capacity);

/// Kendall notation for the station: "M/M/1", "M/D/1", "M/E2/4/20", "M/G/1".
std::string kendall(const sim::distribution& service, int servers, std::uint64_t capacity);

}  // namespace mqlab::models
