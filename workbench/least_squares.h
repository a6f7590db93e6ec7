// Non-negative least squares (Lawson and Hanson's active-set method), for fitting per-operation
// costs that cannot be negative to measured rates. Sized for calibration: tens of rows, a
// couple of dozen columns, dense.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace mqlab::workbench {

/// Rows of a dense matrix, each of the same length.
using matrix = std::vector<std::vector<double>>;

/// The x >= 0 that minimises |A x - b|. Refuses shapes that do not match.
std::expected<std::vector<double>, std::string> nonnegative_least_squares(const matrix& a, const std::vector<double>& b);

}  // namespace mqlab::workbench
