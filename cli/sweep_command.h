// `mqlab sweep` (vary one or two fields over a set of values, on every core or in shards),
// `mqlab merge` (join a sharded sweep's parts) and `mqlab compare` (two runs side by side).
#pragma once

#include <CLI/CLI.hpp>

namespace mqlab::cli {

void add_sweep_command(CLI::App& app, int& exit_code);
void add_compare_command(CLI::App& app, int& exit_code);
void add_merge_command(CLI::App& app, int& exit_code);

}  // namespace mqlab::cli
