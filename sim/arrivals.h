// Open arrival processes: Poisson, deterministic, bursty on/off and piecewise rate profiles
// (a flash sale: 100/s, then 5000/s for 10 s, then 100/s). Each is a stateful generator of
// arrival instants; closed populations with think time are a model concern (models/).
#pragma once

#include <expected>
#include <string>
#include <variant>
#include <vector>

#include "sim/distribution.h"
#include "sim/random.h"
#include "sim/time.h"

namespace mqlab::sim {

/// One step of a piecewise-constant rate profile: from `start` on, arrivals come at `rate`/s.
struct rate_step {
  duration start;
  double rate;
};

class arrival_process {
 public:
  static arrival_process poisson(double rate);
  static arrival_process deterministic(double rate);
  /// Poisson at `rate` during ON periods, silent during OFF periods; period lengths in seconds.
  static arrival_process on_off(double rate, distribution on, distribution off);
  /// Non-homogeneous Poisson with a piecewise-constant rate. Steps must start at 0 and increase.
  static std::expected<arrival_process, std::string> profile(std::vector<rate_step> steps);

  /// The next arrival instant strictly after the previous one; sim_time::max() when none follow
  /// (a profile that ends at rate 0).
  sim_time next(rng& r);
  /// Long-run mean rate per second (for a profile: the rate of the last step).
  double mean_rate() const;
  /// A homogeneous Poisson process: queueing theory's "M" arrivals.
  bool poisson() const { return std::holds_alternative<poisson_s>(s_); }

 private:
  struct poisson_s { double rate; };
  struct deterministic_s { duration gap; };
  struct on_off_s {
    double rate;
    distribution on, off;
    sim_time phase_end{};
    bool on_phase = false;
  };
  struct profile_s {
    std::vector<rate_step> steps;
    std::size_t current = 0;
  };
  using state = std::variant<poisson_s, deterministic_s, on_off_s, profile_s>;

  explicit arrival_process(state s) : s_(std::move(s)) {}
  sim_time next_on_off(on_off_s& s, rng& r);
  sim_time next_profile(profile_s& s, rng& r);

  state s_;
  sim_time last_{};
};

}  // namespace mqlab::sim
