// The charts of a run, built with Qt Charts from run.json: latency CDF (log x axis), latency
// percentiles over time, queue depth over time, throughput over time and deliveries per
// consumer, with the variants side by side in one chart; a sweep's metrics against the varied
// field; a plan's probes. Used by `mqlab plot`, `run`, `sweep` and `plan` (PNG files without a
// display) and the GUI.
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "workbench/plan.h"

class QChart;

namespace mqlab::gui {

enum class chart_kind { latency_cdf, latency_time, depth, throughput, consumers };

inline constexpr chart_kind all_charts[] = {chart_kind::latency_cdf, chart_kind::latency_time, chart_kind::depth,
                                            chart_kind::throughput, chart_kind::consumers};

/// "latency-cdf", "latency-time", "depth", "throughput", "consumers".
std::optional<chart_kind> parse_chart_kind(std::string_view name);
const char* chart_name(chart_kind kind);

/// Builds the chart from one or more run.json documents (several runs are overlaid; series
/// are named "variant" or, with several runs, "run: variant"). Null when the runs hold no
/// data for this kind (e.g. no consumers).
std::unique_ptr<QChart> make_chart(const std::vector<nlohmann::json>& runs, chart_kind kind);

/// One metric of a sweep: its value at each value of the varied field.
struct sweep_series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (varied value, metric)
};

/// A sweep's chart: each metric against the varied field (`x_title`), one line per metric;
/// latencies (response.*, e2e.*) are drawn in ms. Each series has its own y axis (rates and
/// latencies share one chart): the first on the left, the others on the right.
std::unique_ptr<QChart> make_sweep_chart(const std::string& title, const std::string& x_title,
                                         const std::vector<sweep_series>& series);

/// A plan's probes (`mqlab plan --png`, the GUI's Plan action): the first objective's metric at
/// each probed value with its 95% interval, coloured by verdict (meets, misses, cannot tell),
/// the objective's bound, the answer and, where one applies, the queueing-theory prediction.
/// Null before the first probe.
std::unique_ptr<QChart> make_plan_chart(const workbench::plan_request& request, const workbench::plan_result& result);

/// Without a display, selects Qt's offscreen platform; gives Qt a private runtime directory
/// when XDG_RUNTIME_DIR is unset. Call before creating the QApplication.
void prepare_headless_environment();
/// Makes sure a QApplication exists (after prepare_headless_environment()).
void ensure_application();

/// Renders a chart to a PNG of the given size. REQUIRES: ensure_application() was called.
bool render_png(QChart& chart, const std::filesystem::path& path, int width, int height);

/// Reads RESULTS_DIR/run.json and writes one PNG per kind into `out_dir`; returns the files
/// written, or an error naming the file and the cause.
std::expected<std::vector<std::filesystem::path>, std::string> plot_run(const std::filesystem::path& run_dir,
                                                                        const std::vector<chart_kind>& kinds,
                                                                        const std::filesystem::path& out_dir);

}  // namespace mqlab::gui
