// A scenario file, validated: its description, the systems to run (one per variant), and the
// expectations that make it a self-checking lab. See docs/scenario-format.md.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/system.h"
#include "workbench/diagnostics.h"

namespace mqlab::workbench {

enum class comparison { approx, at_most, at_least, equals };

/// `metric` is "<variant>.<key>", e.g. "async.response.mean".
struct expectation {
  std::string metric;
  comparison op = comparison::approx;
  double value = 0;
  double tolerance = 0;          // for approx: absolute, or relative when tolerance_relative
  bool tolerance_relative = true;
  int line = 0;
  bool sim_only = false;         // checked in --mode sim only (a cost the profile prices)
  std::string text;              // as written, for reports: "async.response.mean ≈ 55ms ± 3%"
};

struct variant {
  std::string name;
  models::system_spec system;
};

/// The scenario's own capacity question (`plan:`), which `mqlab plan FILE` and the GUI's Plan
/// dialog start from: one of `minimize` ("PATH=FROM..TO[:STEP]") and `max_rate`
/// ("[PATH=]FROM..TO[:STEP]"), and the objectives ("METRIC<=VALUE").
struct plan_question {
  std::string minimize, max_rate;
  std::vector<std::string> slos;
};

struct scenario {
  std::string name, title, description, lesson;
  std::uint64_t seed = 1;
  int replications = 1;
  std::vector<variant> variants;  // in file order
  std::vector<expectation> expect;
  std::optional<plan_question> plan;
};

/// "path=value" overrides applied to the YAML before validation (`--set duration=10s`).
using overrides = std::vector<std::pair<std::string, std::string>>;

/// Reads and validates a scenario; on failure the diagnostics list every problem found.
std::expected<scenario, diagnostics> load_scenario(const std::string& path, const overrides& sets = {});
std::expected<scenario, diagnostics> parse_scenario(const std::string& yaml_text, const overrides& sets = {});

/// Keeps only the named variants (in file order) and the expectations about them; the error
/// names a variant the scenario does not have and lists those it has.
std::expected<void, std::string> keep_variants(scenario& sc, const std::vector<std::string>& names);

}  // namespace mqlab::workbench
