// Terminal progress drawing with carriage returns.
#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace mqlab::cli {

progress_bar::progress_bar(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && isatty(STDERR_FILENO) == 1) {}

progress_bar::~progress_bar() { clear(); }

void progress_bar::clear() {
  if (drawn_) fmt::print(stderr, "\r\033[K");
  drawn_ = false;
}

void progress_bar::update(int done, int total) {
  if (!enabled_ || total <= 0) return;
  constexpr int width = 30;
  const int filled = done * width / total;
  fmt::print(stderr, "\r{} [{:#<{}}{:-<{}}] {}/{}", label_, "", filled, "", width - filled, done, total);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace mqlab::cli
