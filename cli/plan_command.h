// `mqlab plan`: the smallest value of a scenario field for which every SLO holds
// (workbench/plan.h), printed probe by probe, or as one JSON object.
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

void add_plan_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
