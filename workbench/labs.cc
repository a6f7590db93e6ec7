// Locating and listing the bundled labs.
#include "workbench/labs.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace mqlab::workbench {

namespace fs = std::filesystem;

fs::path project_dir(const char* env, const char* name) {
  if (const char* set = std::getenv(env)) return set;
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  for (fs::path p = exe.parent_path(); !ec && !p.empty() && p != p.parent_path(); p = p.parent_path()) {
    if (fs::is_directory(p / name)) return p / name;
  }
  // A build directory outside the source tree still finds the tree it was built from.
  if (const fs::path source = fs::path(MQLAB_SOURCE_DIR) / name; fs::is_directory(source, ec)) return source;
  return name;
}

fs::path bundled_scenarios_dir() { return project_dir("MQLAB_SCENARIOS", "scenarios"); }

std::expected<std::vector<fs::path>, std::string> list_scenarios(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  if (ec) return std::unexpected(fmt::format("{}: {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mqlab::workbench
