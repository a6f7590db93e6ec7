// `mqlab max-rate`: the highest offered rate a scenario's variant sustains (workbench/max_rate.h),
// probe by probe on the terminal, then the answer (a mean with its 95% interval in the
// simulation), or one JSON object.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

void add_max_rate_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
