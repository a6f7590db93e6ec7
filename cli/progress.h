// A one-line progress bar on stderr, shown only when stderr is a terminal.
#pragma once

#include <string>

namespace mqlab::cli {

class progress_bar {
 public:
  /// `enabled` is further restricted to terminals.
  progress_bar(std::string label, bool enabled);
  ~progress_bar();
  /// Redraws the bar at done/total.
  void update(int done, int total);
  /// Erases the bar (if drawn) so ordinary output can follow; the next update() redraws it.
  void clear();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace mqlab::cli
