// `mqlab calibrate`: measures a running AMQP broker with the calibration probes, fits the
// per-operation costs and writes them as a profile (workbench/calibration.h) that scenarios
// can name. Progress and each probe's rate on the terminal; nothing is written unless every
// probe ran.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

void add_calibrate_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
