// Log-linear bucket arithmetic: index = 256 + (exponent - 8) * 128 + top 7 mantissa bits.
#include "sim/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mqlab::sim {
namespace {
constexpr int linear_bits = 7;                       // 128 buckets per power of two
constexpr std::int64_t exact_below = 2 << linear_bits;  // 256
}  // namespace

std::size_t histogram::index_of(std::int64_t v) {
  if (v < exact_below) return static_cast<std::size_t>(v);
  const int exponent = 63 - std::countl_zero(static_cast<std::uint64_t>(v));  // >= 8
  const int shift = exponent - linear_bits;
  const auto sub = static_cast<std::size_t>((v >> shift) - (std::int64_t{1} << linear_bits));
  return static_cast<std::size_t>(exact_below) + static_cast<std::size_t>(exponent - 8) * (1u << linear_bits) + sub;
}

std::int64_t histogram::lowest(std::size_t index) {
  if (index < static_cast<std::size_t>(exact_below)) return static_cast<std::int64_t>(index);
  const std::size_t rel = index - static_cast<std::size_t>(exact_below);
  const int exponent = static_cast<int>(rel >> linear_bits) + 8;
  const auto sub = static_cast<std::int64_t>(rel & ((1u << linear_bits) - 1));
  return ((std::int64_t{1} << linear_bits) + sub) << (exponent - linear_bits);
}

std::int64_t histogram::representative(std::size_t index) const {
  const std::int64_t lo = lowest(index);
  if (index < static_cast<std::size_t>(exact_below)) return lo;
  const std::int64_t width = lowest(index + 1) - lo;
  return std::clamp(lo + width / 2, min_, max_);
}

void histogram::record(std::int64_t value) {
  value = std::max<std::int64_t>(value, 0);
  const std::size_t i = index_of(value);
  if (i >= counts_.size()) counts_.resize(i + 1, 0);
  ++counts_[i];
  ++count_;
  const double delta = static_cast<double>(value) - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (static_cast<double>(value) - mean_);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void histogram::merge(const histogram& other) {
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (other.count_ == 0) return;
  // Chan et al.'s pairwise combination of means and squared deviations.
  const double n_a = static_cast<double>(count_), n_b = static_cast<double>(other.count_);
  const double delta = other.mean_ - mean_;
  mean_ += delta * n_b / (n_a + n_b);
  m2_ += other.m2_ + delta * delta * n_a * n_b / (n_a + n_b);
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void histogram::reset() { *this = histogram(); }

double histogram::mean() const { return mean_; }

double histogram::stddev() const { return count_ < 2 ? 0.0 : std::sqrt(m2_ / static_cast<double>(count_ - 1)); }

std::int64_t histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min_;
  if (p >= 100) return max_;
  const auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return representative(i);
  }
  return max_;
}

double histogram::cumulative_fraction(std::int64_t value) const {
  if (count_ == 0) return 0.0;
  const std::size_t limit = std::min(index_of(std::max<std::int64_t>(value, 0)) + 1, counts_.size());
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < limit; ++i) seen += counts_[i];
  return static_cast<double>(seen) / static_cast<double>(count_);
}

}  // namespace mqlab::sim
