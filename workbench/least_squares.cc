// Lawson-Hanson NNLS: grow the set of free (positive) variables one at a time by the steepest
// gradient, solve the unconstrained problem on that set, and step back towards the previous
// feasible point whenever a free variable would go negative. The subproblems are solved through
// the normal equations, which is accurate enough for the well-scaled systems calibration builds.
#include "workbench/least_squares.h"

#include <cmath>
#include <fmt/format.h>

namespace mqlab::workbench {
namespace {

/// Solves the symmetric system m z = r by Gaussian elimination with partial pivoting; false when singular.
bool solve(matrix m, std::vector<double> r, std::vector<double>& z) {
  const std::size_t n = r.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t pivot = c;
    for (std::size_t i = c + 1; i < n; ++i) {
      if (std::abs(m[i][c]) > std::abs(m[pivot][c])) pivot = i;
    }
    if (std::abs(m[pivot][c]) < 1e-300) return false;
    std::swap(m[c], m[pivot]);
    std::swap(r[c], r[pivot]);
    for (std::size_t i = c + 1; i < n; ++i) {
      const double f = m[i][c] / m[c][c];
      for (std::size_t j = c; j < n; ++j) m[i][j] -= f * m[c][j];
      r[i] -= f * r[c];
    }
  }
  z.assign(n, 0);
  for (std::size_t c = n; c-- > 0;) {
    double s = r[c];
    for (std::size_t j = c + 1; j < n; ++j) s -= m[c][j] * z[j];
    z[c] = s / m[c][c];
  }
  return true;
}

/// Least squares over the columns in `free` only; the others stay 0.
std::vector<double> solve_on(const matrix& a, const std::vector<double>& b, const std::vector<bool>& free) {
  std::vector<std::size_t> cols;
  for (std::size_t j = 0; j < free.size(); ++j) {
    if (free[j]) cols.push_back(j);
  }
  matrix normal(cols.size(), std::vector<double>(cols.size(), 0));
  std::vector<double> rhs(cols.size(), 0), z;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t p = 0; p < cols.size(); ++p) {
      rhs[p] += a[i][cols[p]] * b[i];
      for (std::size_t q = 0; q < cols.size(); ++q) normal[p][q] += a[i][cols[p]] * a[i][cols[q]];
    }
  }
  std::vector<double> x(free.size(), 0);
  if (!solve(normal, rhs, z)) return x;
  for (std::size_t p = 0; p < cols.size(); ++p) x[cols[p]] = z[p];
  return x;
}

std::vector<double> gradient(const matrix& a, const std::vector<double>& b, const std::vector<double>& x) {
  std::vector<double> w(x.size(), 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    double residual = b[i];
    for (std::size_t j = 0; j < x.size(); ++j) residual -= a[i][j] * x[j];
    for (std::size_t j = 0; j < x.size(); ++j) w[j] += a[i][j] * residual;
  }
  return w;
}

}  // namespace

std::expected<std::vector<double>, std::string> nonnegative_least_squares(const matrix& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::unexpected(fmt::format("{} rows but {} right-hand sides", a.size(), b.size()));
  const std::size_t n = a.empty() ? 0 : a[0].size();
  for (const auto& row : a) {
    if (row.size() != n) return std::unexpected("rows of different lengths");
  }
  double scale = 0;
  for (const auto& row : a) {
    for (double v : row) scale = std::max(scale, std::abs(v));
  }
  const double tolerance = 1e-12 * std::max(scale, 1.0) * std::max(n, std::size_t{1});
  std::vector<double> x(n, 0);
  std::vector<bool> free(n, false);
  // Each outer round frees one variable and an inner step fixes at least one: 3n rounds is
  // Lawson and Hanson's usual bound.
  for (std::size_t round = 0; round < 3 * n + 3; ++round) {
    const auto w = gradient(a, b, x);
    std::size_t best = n;
    for (std::size_t j = 0; j < n; ++j) {
      if (!free[j] && w[j] > tolerance && (best == n || w[j] > w[best])) best = j;
    }
    if (best == n) break;
    free[best] = true;
    for (std::size_t inner = 0; inner <= n; ++inner) {
      const auto z = solve_on(a, b, free);
      double step = 1;
      for (std::size_t j = 0; j < n; ++j) {
        if (free[j] && z[j] <= 0) step = std::min(step, x[j] > z[j] ? x[j] / (x[j] - z[j]) : 0.0);
      }
      for (std::size_t j = 0; j < n; ++j) x[j] += step * (z[j] - x[j]);
      if (step >= 1) break;
      for (std::size_t j = 0; j < n; ++j) {
        if (free[j] && x[j] <= tolerance) {
          free[j] = false;
          x[j] = 0;
        }
      }
    }
  }
  return x;
}

}  // namespace mqlab::workbench
