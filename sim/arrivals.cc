// Arrival generators. Piecewise and on/off Poisson use memorylessness: a draw that runs past
// a rate change is discarded and redrawn from the change at the new rate, which is exact.
#include "sim/arrivals.h"

#include <cmath>

#include <fmt/format.h>

namespace mqlab::sim {
namespace {

duration exp_gap(rng& r, double rate) { return duration::from_seconds(r.exponential() / rate); }

}  // namespace

arrival_process arrival_process::poisson(double rate) { return arrival_process(poisson_s{rate}); }

arrival_process arrival_process::deterministic(double rate) {
  return arrival_process(deterministic_s{duration::from_seconds(1.0 / rate)});
}

arrival_process arrival_process::on_off(double rate, distribution on, distribution off) {
  return arrival_process(on_off_s{rate, std::move(on), std::move(off)});
}

std::expected<arrival_process, std::string> arrival_process::profile(std::vector<rate_step> steps) {
  if (steps.empty() || steps.front().start != duration{}) {
    return std::unexpected(std::string("a rate profile must start at 0s"));
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].rate < 0) return std::unexpected(fmt::format("rate profile step {}: negative rate", i + 1));
    if (i > 0 && steps[i].start <= steps[i - 1].start) {
      return std::unexpected(fmt::format("rate profile step {}: start times must increase", i + 1));
    }
  }
  return arrival_process(profile_s{std::move(steps)});
}

sim_time arrival_process::next(rng& r) {
  struct visitor {
    arrival_process& self;
    rng& r;
    sim_time operator()(poisson_s& s) { return self.last_ + exp_gap(r, s.rate); }
    sim_time operator()(deterministic_s& s) { return self.last_ + s.gap; }
    sim_time operator()(on_off_s& s) { return self.next_on_off(s, r); }
    sim_time operator()(profile_s& s) { return self.next_profile(s, r); }
  };
  last_ = std::visit(visitor{*this, r}, s_);
  return last_;
}

sim_time arrival_process::next_on_off(on_off_s& s, rng& r) {
  sim_time t = last_;
  for (;;) {
    if (t >= s.phase_end) {
      // Enter the next phase; the run starts with an ON phase.
      s.on_phase = !s.on_phase;
      s.phase_end = t + duration::from_seconds((s.on_phase ? s.on : s.off).sample(r));
      continue;
    }
    if (!s.on_phase) {
      t = s.phase_end;
      continue;
    }
    const sim_time candidate = t + exp_gap(r, s.rate);
    if (candidate < s.phase_end) return candidate;
    t = s.phase_end;
  }
}

sim_time arrival_process::next_profile(profile_s& s, rng& r) {
  sim_time t = last_;
  for (;;) {
    const bool last_step = s.current + 1 == s.steps.size();
    const double rate = s.steps[s.current].rate;
    const sim_time step_end = last_step ? sim_time::max() : sim_time(s.steps[s.current + 1].start.ns());
    if (rate > 0) {
      const sim_time candidate = t + exp_gap(r, rate);
      if (candidate < step_end) return candidate;
    }
    if (last_step) return sim_time::max();
    t = step_end;
    ++s.current;
  }
}

double arrival_process::mean_rate() const {
  struct visitor {
    double operator()(const poisson_s& s) const { return s.rate; }
    double operator()(const deterministic_s& s) const { return 1.0 / s.gap.seconds(); }
    double operator()(const on_off_s& s) const { return s.rate * s.on.mean() / (s.on.mean() + s.off.mean()); }
    double operator()(const profile_s& s) const { return s.steps.back().rate; }
  };
  return std::visit(visitor{}, s_);
}

}  // namespace mqlab::sim
