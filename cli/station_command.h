// `mqlab station`: simulate a G/G/c/K queueing station and compare with queueing theory.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

/// Registers the subcommand; `exit_code` receives the command's result when it runs.
void add_station_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
