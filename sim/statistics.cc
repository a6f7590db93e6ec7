// Student-t quantiles come from Boost.Math; the rest is textbook output analysis
// (Law & Kelton, "Simulation Modeling and Analysis", ch. 9).
#include "sim/statistics.h"

#include <algorithm>
#include <cmath>

// Double precision throughout: the default promotion to long double makes Boost.Math run
// long-double initialisers that valgrind cannot emulate.
#define BOOST_MATH_PROMOTE_DOUBLE_POLICY false
#include <boost/math/distributions/students_t.hpp>

namespace mqlab::sim {

void tally::add(double x) {
  ++n_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(n_);
  m2_ += delta * (x - mean_);
  min_ = n_ == 1 ? x : std::min(min_, x);
  max_ = n_ == 1 ? x : std::max(max_, x);
}

double student_t_quantile(double level, std::uint64_t degrees_of_freedom) {
  const boost::math::students_t dist(static_cast<double>(degrees_of_freedom));
  return boost::math::quantile(dist, 1.0 - (1.0 - level) / 2.0);
}

interval confidence_interval(std::span<const double> samples, double level) {
  tally t;
  for (double x : samples) t.add(x);
  interval out{t.mean(), 0.0};
  if (t.count() >= 2) {
    out.half_width = student_t_quantile(level, t.count() - 1) * std::sqrt(t.variance() / static_cast<double>(t.count()));
  }
  return out;
}

interval batch_means(std::span<const double> observations, std::size_t batches, double level) {
  const std::size_t size = batches ? observations.size() / batches : 0;
  if (size == 0) return confidence_interval(observations, level);
  batch_accumulator acc(size);
  for (std::size_t i = 0; i < size * batches; ++i) acc.add(observations[i]);
  return acc.estimate(level);
}

void batch_accumulator::add(double x) {
  sum_ += x;
  if (++n_ == size_) {
    means_.push_back(sum_ / static_cast<double>(size_));
    n_ = 0;
    sum_ = 0;
  }
}

}  // namespace mqlab::sim
