// Collecting, ordering and printing diagnostics.
#include "workbench/diagnostics.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace mqlab::workbench {

void diagnostics::add(int line, int column, std::string message) {
  for (const auto& d : items_) {
    if (d.line == line && d.column == column && d.message == message) return;  // variants share base keys
  }
  items_.push_back({line, column, std::move(message)});
}

std::string diagnostics::format(const std::string& file) const {
  auto sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const diagnostic& a, const diagnostic& b) { return std::tie(a.line, a.column) < std::tie(b.line, b.column); });
  std::string out;
  for (const auto& d : sorted) {
    if (d.line > 0) out += fmt::format("{}:{}:{}: {}\n", file, d.line, d.column, d.message);
    else out += fmt::format("{}: {}\n", file, d.message);
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best_distance <= std::max<std::size_t>(2, word.size() / 3) ? best : std::string();
}

}  // namespace mqlab::workbench
