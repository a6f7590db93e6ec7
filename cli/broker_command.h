// `mqlab broker`: serve the embedded broker core on the real network until SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

/// Registers the subcommand; `exit_code` receives the command's result when it runs.
void add_broker_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
