// `mqlab run`, `mqlab validate` and `mqlab labs`: the scenario workbench on the command line.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

void add_scenario_commands(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
