// The `mqlab` command line: one subcommand per task; exit codes 0 ok, 1 expectation failed, 2 bad input.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/broker_command.h"
#include "cli/calibrate_command.h"
#include "cli/max_rate_command.h"
#include "cli/plan_command.h"
#include "cli/plot_command.h"
#include "cli/scenario_commands.h"
#include "cli/station_command.h"
#include "cli/sweep_command.h"

int main(int argc, char** argv) {
  CLI::App app{"mqlab: simulate and benchmark message-queue architectures"};
  app.require_subcommand(1);
  int exit_code = 0;
  mqlab::cli::add_station_command(app, exit_code);
  mqlab::cli::add_scenario_commands(app, exit_code);
  mqlab::cli::add_sweep_command(app, exit_code);
  mqlab::cli::add_plan_command(app, exit_code);
  mqlab::cli::add_max_rate_command(app, exit_code);
  mqlab::cli::add_calibrate_command(app, exit_code);
  mqlab::cli::add_compare_command(app, exit_code);
  mqlab::cli::add_merge_command(app, exit_code);
  mqlab::cli::add_plot_command(app, exit_code);
  mqlab::cli::add_broker_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "mqlab: {}\n", e.what());
    return 2;
  }
  return exit_code;
}
