// Parses the chart selection and hands the work to the shared chart library.
#include "cli/plot_command.h"

#include <memory>

#include <fmt/format.h>

#include "gui/charts.h"

namespace mqlab::cli {

void add_plot_command(CLI::App& app, int& exit_code) {
  struct options {
    std::string run;
    std::vector<std::string> charts{"all"};
    std::string out;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("plot", "Write a run's charts as PNG files (no display needed)");
  cmd->add_option("run", o->run, "Results folder (or its run.json)")->required();
  cmd->add_option("--chart", o->charts, "latency-cdf | latency-time | depth | throughput | consumers | all (repeatable)")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output folder (default: the results folder)");
  cmd->callback([o, &exit_code] {
    std::vector<gui::chart_kind> kinds;
    for (const auto& name : o->charts) {
      if (name == "all") {
        kinds.assign(std::begin(gui::all_charts), std::end(gui::all_charts));
      } else if (auto k = gui::parse_chart_kind(name)) {
        kinds.push_back(*k);
      } else {
        fmt::print(stderr, "mqlab plot: --chart {}: unknown chart (use latency-cdf, latency-time, depth, throughput, consumers, all)\n", name);
        exit_code = 2;
        return;
      }
    }
    const std::filesystem::path run(o->run);
    const std::filesystem::path out =
        o->out.empty() ? (std::filesystem::is_directory(run) ? run : run.parent_path()) : std::filesystem::path(o->out);
    auto written = gui::plot_run(run, kinds, out);
    if (!written) {
      fmt::print(stderr, "mqlab plot: {}\n", written.error());
      exit_code = 2;
      return;
    }
    for (const auto& p : *written) fmt::print("{}\n", p.string());
    exit_code = 0;
  });
}

}  // namespace mqlab::cli
