// `mqlab plot RESULTS_DIR [--chart KIND|all] [--out DIR]`: the run's charts as PNG files, no display needed.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

void add_plot_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
