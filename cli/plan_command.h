// `mqlab plan`: the smallest value of a scenario field for which every SLO holds
// (workbench/plan.h), printed probe by probe, or as one JSON object; or one shard of its grid.
#pragma once

#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace mqlab::cli {

void add_plan_command(CLI::App& app, int& exit_code);

/// `mqlab merge` of the parts `mqlab plan --shard` wrote: the answer from every probe of the
/// grid, printed as mqlab plan prints it (or its JSON); the exit code plan would give. Throws
/// naming a part that does not fit.
int merge_plan(const std::vector<nlohmann::json>& parts, bool json);

}  // namespace mqlab::cli
