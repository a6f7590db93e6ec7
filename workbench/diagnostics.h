// Located messages about a scenario file: every problem is collected (not just the first) and
// printed as "file:line:column: message".
#pragma once

#include <string>
#include <vector>

namespace mqlab::workbench {

struct diagnostic {
  int line = 0;    // 1-based; 0 when not tied to a place (e.g. a --set override)
  int column = 0;  // 1-based
  std::string message;
};

class diagnostics {
 public:
  void add(int line, int column, std::string message);
  bool empty() const { return items_.empty(); }
  const std::vector<diagnostic>& items() const { return items_; }
  /// One line per problem, "file:line:column: message", in file order.
  std::string format(const std::string& file) const;

 private:
  std::vector<diagnostic> items_;
};

/// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace mqlab::workbench
