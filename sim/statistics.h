// Output analysis: running moments (tally), Student-t confidence intervals over independent
// replications, and batch means for a single long run.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mqlab::sim {

/// Count, mean, variance (Welford), min and max of a stream of observations.
class tally {
 public:
  void add(double x);
  void reset() { *this = tally(); }
  std::uint64_t count() const { return n_; }
  double mean() const { return mean_; }
  double variance() const { return n_ > 1 ? m2_ / static_cast<double>(n_ - 1) : 0.0; }
  double min() const { return min_; }
  double max() const { return max_; }
  double sum() const { return mean_ * static_cast<double>(n_); }

 private:
  std::uint64_t n_ = 0;
  double mean_ = 0, m2_ = 0;
  double min_ = 0, max_ = 0;
};

/// A point estimate with the half-width of its confidence interval.
struct interval {
  double mean = 0;
  double half_width = 0;  // 0 when fewer than two samples
  double low() const { return mean - half_width; }
  double high() const { return mean + half_width; }
  bool contains(double x) const { return low() <= x && x <= high(); }
  /// Half-width relative to the mean.
  double relative() const { return mean != 0 ? half_width / (mean < 0 ? -mean : mean) : 0.0; }
};

/// Two-sided Student-t quantile t_{1-(1-level)/2, df}, e.g. level 0.95, df 4 -> 2.776.
double student_t_quantile(double level, std::uint64_t degrees_of_freedom);

/// Confidence interval of the mean of independent, identically distributed samples
/// (one per replication), using Student's t with n-1 degrees of freedom.
interval confidence_interval(std::span<const double> samples, double level = 0.95);

/// Batch means: splits a correlated sequence (e.g. successive waiting times of one run)
/// into `batches` contiguous batches and builds the interval from the batch averages.
/// Leftover observations at the end are ignored so batches stay equal.
interval batch_means(std::span<const double> observations, std::size_t batches = 20, double level = 0.95);

/// Accumulates batch averages online, so a model need not keep every observation.
class batch_accumulator {
 public:
  explicit batch_accumulator(std::uint64_t batch_size) : size_(batch_size) {}
  void add(double x);
  std::span<const double> batches() const { return means_; }
  interval estimate(double level = 0.95) const { return confidence_interval(means_, level); }

 private:
  std::uint64_t size_;
  std::uint64_t n_ = 0;
  double sum_ = 0;
  std::vector<double> means_;
};

}  // namespace mqlab::sim
