// `mqlab run`, `mqlab validate` and `mqlab labs`: the scenario workbench on the command line.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "workbench/scenario.h"

namespace mqlab::cli {

/// `--set PATH=VALUE` options as overrides; the error names the malformed one.
std::expected<workbench::overrides, std::string> parse_sets(const std::vector<std::string>& sets);

void add_scenario_commands(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
