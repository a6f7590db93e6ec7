// Sweeps run the scenario once per combination of --vary values (each run's replications in
// parallel threads) and print one row per combination; compare reads two run.json files.
#include "cli/sweep_command.h"

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <QtCharts/QChart>
#include <nlohmann/json.hpp>

#include "cli/number.h"
#include "cli/progress.h"
#include "gui/charts.h"
#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace mqlab::cli {
namespace {

struct sweep_options {
  std::string file;
  std::vector<std::string> vary;
  std::vector<std::string> metrics;
  std::string csv;
  std::string png;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::string shard;  // "I/N" or "auto"; empty: every point
  std::string out;    // where a shard writes its part
  bool quiet = false;
};

struct shard_spec {
  std::size_t index = 0, count = 1;  // 0-based index of `count`
};

/// A count in the environment variable `name`, if it is set to one.
std::optional<std::size_t> count_in(const char* name) {
  const char* text = std::getenv(name);
  return text == nullptr ? std::nullopt : parse_number<std::size_t>(text);
}

/// "I/N" (1 <= I <= N), or "auto": a Slurm job array's task (SLURM_ARRAY_TASK_ID, _MIN, _COUNT)
/// or a Kubernetes Indexed Job's (JOB_COMPLETION_INDEX, counted from 0, with MQLAB_SHARD_COUNT
/// set to the job's completions).
std::expected<shard_spec, std::string> parse_shard(const std::string& text) {
  if (text == "auto") {
    if (const auto id = count_in("SLURM_ARRAY_TASK_ID"), n = count_in("SLURM_ARRAY_TASK_COUNT");
        id && n && *n > 0) {
      const std::size_t first = count_in("SLURM_ARRAY_TASK_MIN").value_or(0);
      if (*id >= first && *id - first < *n) return shard_spec{*id - first, *n};
    }
    if (const auto id = count_in("JOB_COMPLETION_INDEX"), n = count_in("MQLAB_SHARD_COUNT");
        id && n && *id < *n) {
      return shard_spec{*id, *n};
    }
    return std::unexpected("--shard auto: neither SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT nor "
                           "JOB_COMPLETION_INDEX with MQLAB_SHARD_COUNT describe a shard");
  }
  const auto slash = text.find('/');
  const auto i = slash == std::string::npos ? std::nullopt : parse_number<std::size_t>(std::string_view(text).substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : parse_number<std::size_t>(std::string_view(text).substr(slash + 1));
  if (!i || !n || *i < 1 || *i > *n) return std::unexpected(fmt::format("--shard '{}': expected I/N with 1 <= I <= N, or auto", text));
  return shard_spec{*i - 1, *n};
}

/// Runs every scenario on `jobs` threads and hands each result to `row` in order, as soon as it
/// and every one before it are done. A run's results depend only on its scenario, so they are
/// the same whatever the number of jobs.
void run_points(const std::vector<workbench::scenario>& scenarios, const std::vector<std::size_t>& points, unsigned jobs,
                const std::function<void(std::size_t, const workbench::run_result&)>& row) {
  std::vector<std::optional<workbench::run_result>> results(points.size());
  std::mutex lock;
  std::condition_variable done;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < points.size();) {
      auto r = workbench::run_scenario(scenarios[points[i]]);
      std::lock_guard guard(lock);
      results[i] = std::move(r);
      done.notify_all();
    }
  };
  std::vector<std::jthread> pool;
  for (unsigned t = 0; t < std::min<std::size_t>(jobs, points.size()); ++t) pool.emplace_back(worker);
  for (std::size_t i = 0; i < points.size(); ++i) {
    std::unique_lock guard(lock);
    done.wait(guard, [&] { return results[i].has_value(); });
    const workbench::run_result r = std::move(*results[i]);
    results[i].reset();
    guard.unlock();
    row(points[i], r);
  }
}

struct axis {
  std::string path;
  std::vector<std::string> values;
};

/// "path=a,b,c" or "path=from..to:step" (numbers).
std::expected<axis, std::string> parse_axis(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) return std::unexpected(fmt::format("--vary {}: expected PATH=VALUES", spec));
  axis a{spec.substr(0, eq), {}};
  const std::string values = spec.substr(eq + 1);
  if (const auto dots = values.find(".."); dots != std::string::npos) {
    const auto colon = values.find(':', dots);
    const auto from = parse_number<double>(values.substr(0, dots));
    const auto to = parse_number<double>(values.substr(dots + 2, colon == std::string::npos ? std::string::npos : colon - dots - 2));
    const auto step = colon == std::string::npos ? std::optional<double>(1.0) : parse_number<double>(values.substr(colon + 1));
    if (!from || !to || !step || !(*step > 0) || *to < *from) {
      return std::unexpected(fmt::format("--vary {}: a range is FROM..TO[:STEP] with numbers, FROM <= TO and STEP > 0", spec));
    }
    const auto count = static_cast<std::size_t>(std::floor((*to - *from) / *step + 1e-9)) + 1;
    if (count > 1000) return std::unexpected(fmt::format("--vary {}: more than 1000 values", spec));
    for (std::size_t i = 0; i < count; ++i) a.values.push_back(fmt::format("{:g}", *from + static_cast<double>(i) * *step));
  } else {
    for (std::size_t start = 0; start <= values.size();) {
      const auto comma = values.find(',', start);
      a.values.push_back(values.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (std::any_of(a.values.begin(), a.values.end(), [](const std::string& v) { return v.empty(); })) {
    return std::unexpected(fmt::format("--vary {}: empty value", spec));
  }
  return a;
}

int sweep(const sweep_options& o) {
  std::vector<axis> axes;
  for (const auto& v : o.vary) {
    auto a = parse_axis(v);
    if (!a) {
      fmt::print(stderr, "mqlab sweep: {}\n", a.error());
      return 2;
    }
    axes.push_back(std::move(*a));
  }
  if (axes.empty() || axes.size() > 2) {
    fmt::print(stderr, "mqlab sweep: give one or two --vary PATH=VALUES\n");
    return 2;
  }
  std::vector<workbench::overrides> combos{{}};
  for (const auto& a : axes) {
    std::vector<workbench::overrides> next;
    for (const auto& base : combos) {
      for (const auto& v : a.values) {
        auto c = base;
        c.emplace_back(a.path, v);
        next.push_back(std::move(c));
      }
    }
    combos = std::move(next);
  }
  // Validate every combination before running any.
  std::vector<workbench::scenario> scenarios;
  for (const auto& c : combos) {
    auto sc = workbench::load_scenario(o.file, c);
    if (!sc) {
      std::string where;
      for (const auto& [p, v] : c) where += fmt::format(" {}={}", p, v);
      fmt::print(stderr, "with{}:\n{}", where, sc.error().format(o.file));
      return 2;
    }
    scenarios.push_back(std::move(*sc));
  }
  std::vector<std::string> metrics = o.metrics;
  if (metrics.empty()) {
    for (const auto& v : scenarios.front().variants) metrics.push_back(v.name + ".response.mean");
  }
  std::size_t width = 22;
  for (const auto& m : metrics) width = std::max(width, m.size() + 2);
  std::string header;
  for (const auto& a : axes) header += fmt::format("{:>{}}", a.path, a.path.size() + 2);
  for (const auto& m : metrics) header += fmt::format("{:>{}}", m, width);
  std::string csv;
  for (const auto& a : axes) csv += a.path + ",";
  for (const auto& m : metrics) csv += m + "," + m + ".ci95,";
  csv += "expectations_passed\n";
  if (!o.png.empty() && (axes.size() != 1 || std::any_of(axes[0].values.begin(), axes[0].values.end(),
                                                          [](const std::string& v) { return !parse_number<double>(v); }))) {
    fmt::print(stderr, "mqlab sweep: --png draws one numeric --vary; give one with numbers\n");
    return 2;
  }
  std::optional<shard_spec> shard;
  if (!o.shard.empty()) {
    auto parsed = parse_shard(o.shard);
    if (!parsed || o.out.empty() || !o.png.empty() || !o.csv.empty()) {
      fmt::print(stderr, "mqlab sweep: {}\n", !parsed ? parsed.error()
                                                        : "--shard writes its part to --out DIR (mqlab merge draws "
                                                          "the table, CSV and chart of all parts); give --out, not --csv or --png");
      return 2;
    }
    shard = *parsed;
  }
  std::vector<std::size_t> points;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    if (!shard || i % shard->count == shard->index) points.push_back(i);
  }
  std::vector<gui::sweep_series> chart_series;
  for (const auto& m : metrics) chart_series.push_back({m, {}});
  const std::string header_line = fmt::format("{}{:>8}\n", header, "expect");
  const std::string csv_header = csv;
  fmt::print("{}", header_line);
  nlohmann::json rows = nlohmann::json::array();
  progress_bar bar("sweeping", !o.quiet);
  int done = 0;
  run_points(scenarios, points, o.jobs, [&](std::size_t i, const workbench::run_result& r) {
    bar.update(++done, static_cast<int>(points.size()));
    std::string row, csv_row;
    for (std::size_t k = 0; k < combos[i].size(); ++k) {
      const auto& value = combos[i][k].second;
      row += fmt::format("{:>{}}", value, axes[k].path.size() + 2);
      csv_row += value + ",";
    }
    for (const auto& m : metrics) {
      const workbench::metric_value* found = workbench::find_metric(r.variants, m);
      row += fmt::format("{:>{}}", found ? fmt::format("{:.4g} ± {:.2g}", found->mean, found->ci95) : "—", width);
      if (found && !o.png.empty()) {
        chart_series[static_cast<std::size_t>(&m - metrics.data())].points.emplace_back(*parse_number<double>(combos[i][0].second), found->mean);
      }
      csv_row += found ? fmt::format("{},{},", found->mean, found->ci95) : ",,";
    }
    csv_row += r.all_passed() ? "true\n" : "false\n";
    const std::string line = fmt::format("{}{:>8}\n", row, r.expectations.empty() ? "—" : (r.all_passed() ? "PASS" : "FAIL"));
    bar.clear();
    fmt::print("{}", line);
    csv += csv_row;
    if (shard) rows.push_back({{"point", i}, {"line", line}, {"csv", csv_row}});
  });
  if (shard) {
    const nlohmann::json part{{"sweep", {{"file", o.file}, {"vary", o.vary}, {"metrics", metrics}}},
                              {"shard", shard->index + 1}, {"shards", shard->count}, {"points", scenarios.size()},
                              {"header", header_line}, {"csv_header", csv_header}, {"rows", rows}};
    const auto file = std::filesystem::path(o.out) / fmt::format("shard-{}-of-{}.json", shard->index + 1, shard->count);
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    std::ofstream out(file);
    out << part.dump(1) << "\n";
    if (!out) {
      fmt::print(stderr, "mqlab sweep: cannot write {}\n", file.string());
      return 2;
    }
    if (!o.quiet) fmt::print(stderr, "shard {} of {}: {} points in {}\n", shard->index + 1, shard->count, points.size(), file.string());
    return 0;
  }
  if (!o.png.empty()) {
    gui::prepare_headless_environment();
    gui::ensure_application();
    auto chart = gui::make_sweep_chart(fmt::format("{}: sweep of {}", scenarios.front().name, axes[0].path), axes[0].path,
                                       chart_series);
    if (!chart || !gui::render_png(*chart, o.png, 1000, 600)) {
      fmt::print(stderr, "mqlab sweep: cannot write {}\n", o.png);
      return 2;
    }
    fmt::print("chart in {}\n", o.png);
  }
  if (!o.csv.empty()) {
    std::ofstream out(o.csv);
    out << csv;
    if (!out) {
      fmt::print(stderr, "mqlab sweep: cannot write {}\n", o.csv);
      return 2;
    }
  }
  return 0;
}

/// The parts `mqlab sweep --shard` wrote in `dirs`, checked to be the shards of one sweep with
/// every point once; printed and written as the whole sweep would have printed and written them.
int merge(const std::vector<std::string>& dirs, const std::string& csv_file) {
  std::vector<nlohmann::json> parts;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("shard-") || !name.ends_with(".json")) continue;
      std::ifstream in(entry.path());
      try {
        parts.push_back(nlohmann::json::parse(in));
      } catch (const nlohmann::json::exception& e) {
        fmt::print(stderr, "mqlab merge: {}: not a sweep part: {}\n", entry.path().string(), e.what());
        return 2;
      }
    }
    if (ec) {
      fmt::print(stderr, "mqlab merge: {}: {}\n", dir, ec.message());
      return 2;
    }
  }
  try {
    if (parts.empty()) throw std::runtime_error("no shard-*.json parts in " + fmt::format("{}", fmt::join(dirs, ", ")));
    const auto& first = parts.front();
    const auto shards = first.at("shards").get<std::size_t>();
    const auto total = first.at("points").get<std::size_t>();
    std::vector<std::optional<std::pair<std::string, std::string>>> rows(total);
    std::vector<bool> seen(shards + 1);
    for (const auto& part : parts) {
      if (part.at("sweep") != first.at("sweep") || part.at("shards") != first.at("shards") || part.at("points") != first.at("points")) {
        throw std::runtime_error(fmt::format("shard {} is of another sweep than shard {}", part.at("shard").dump(), first.at("shard").dump()));
      }
      const auto shard = part.at("shard").get<std::size_t>();
      if (shard < 1 || shard > shards || seen[shard]) throw std::runtime_error(fmt::format("shard {} of {} twice or out of range", shard, shards));
      seen[shard] = true;
      for (const auto& row : part.at("rows")) {
        const auto point = row.at("point").get<std::size_t>();
        if (point >= total || rows[point]) throw std::runtime_error(fmt::format("point {} twice or out of range", point));
        rows[point] = {row.at("line").get<std::string>(), row.at("csv").get<std::string>()};
      }
    }
    for (std::size_t k = 1; k <= shards; ++k) {
      if (!seen[k]) throw std::runtime_error(fmt::format("shard {} of {} is missing", k, shards));
    }
    std::string table = first.at("header").get<std::string>(), csv = first.at("csv_header").get<std::string>();
    for (const auto& row : rows) {
      if (!row) throw std::runtime_error("a point no shard ran");
      table += row->first;
      csv += row->second;
    }
    fmt::print("{}", table);
    if (!csv_file.empty()) {
      std::ofstream out(csv_file);
      out << csv;
      if (!out) throw std::runtime_error("cannot write " + csv_file);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "mqlab merge: {}\n", e.what());
    return 2;
  }
  return 0;
}

std::expected<nlohmann::json, std::string> read_run(const std::string& where) {
  std::filesystem::path p(where);
  if (std::filesystem::is_directory(p)) p /= "run.json";
  std::ifstream in(p);
  if (!in) return std::unexpected(fmt::format("{}: cannot open", p.string()));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return std::unexpected(fmt::format("{}: not a run.json: {}", p.string(), e.what()));
  }
}

int compare(const std::string& a_path, const std::string& b_path) {
  auto a = read_run(a_path);
  auto b = read_run(b_path);
  if (!a || !b) {
    fmt::print(stderr, "mqlab compare: {}\n", !a ? a.error() : b.error());
    return 2;
  }
  try {
    const auto& va = (*a)["variants"];
    const auto& vb = (*b)["variants"];
    fmt::print("{:<34}{:>14}{:>14}{:>14}{:>10}\n", "metric", "A", "B", "B - A", "change");
    for (const auto& x : va) {
      // Variants are matched by name; a single variant on each side is matched regardless.
      const nlohmann::json* y = nullptr;
      for (const auto& candidate : vb) {
        if (candidate["name"] == x["name"] || (va.size() == 1 && vb.size() == 1)) y = &candidate;
      }
      if (y == nullptr) continue;
      fmt::print("[{} vs {}]\n", x["name"].get<std::string>(), (*y)["name"].get<std::string>());
      for (const auto& [key, m] : x["metrics"].items()) {
        if (!(*y)["metrics"].contains(key)) continue;
        const double ma = m["mean"].get<double>();
        const double mb = (*y)["metrics"][key]["mean"].get<double>();
        if (ma == 0 && mb == 0) continue;
        const std::string change = ma != 0 ? fmt::format("{:+.1f}%", (mb - ma) / std::fabs(ma) * 100) : "new";
        fmt::print("{:<34}{:>14.6g}{:>14.6g}{:>14.6g}{:>10}\n", key, ma, mb, mb - ma, change);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    fmt::print(stderr, "mqlab compare: unexpected run.json layout: {}\n", e.what());
    return 2;
  }
  return 0;
}

}  // namespace

void add_sweep_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<sweep_options>();
  auto* cmd = app.add_subcommand("sweep", "Run a scenario over values of one or two fields and tabulate metrics");
  cmd->add_option("file", o->file, "Scenario file")->required();
  cmd->add_option("--vary", o->vary, "PATH=a,b,c or PATH=from..to:step (one or two)")->required();
  cmd->add_option("--metric", o->metrics, "Metric to tabulate, e.g. main.response.p99 (repeatable)");
  cmd->add_option("--csv", o->csv, "Also write the table as CSV to this file");
  cmd->add_option("--png", o->png, "Also draw each metric against the varied value (one numeric --vary) to this PNG");
  cmd->add_option("--jobs", o->jobs, "Points run at once (each runs its replications in parallel too); the "
                                     "results are the same for any number")
      ->check(CLI::Range(1u, 256u))->capture_default_str();
  cmd->add_option("--shard", o->shard, "I/N: run only the I-th of N slices of the points and write them to --out "
                                       "(auto: from a Slurm job array or a Kubernetes Indexed Job); mqlab merge joins them");
  cmd->add_option("--out", o->out, "Where --shard writes its part");
  cmd->add_flag("--quiet", o->quiet, "No progress bar");
  cmd->callback([o, &exit_code] { exit_code = sweep(*o); });
}

void add_merge_command(CLI::App& app, int& exit_code) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto csv = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("merge", "Join the parts of a sweep run with --shard into its table and CSV");
  cmd->add_option("dirs", *dirs, "Folders holding the parts (shard-I-of-N.json)")->required();
  cmd->add_option("--csv", *csv, "Also write the table as CSV to this file");
  cmd->callback([dirs, csv, &exit_code] { exit_code = merge(*dirs, *csv); });
}

void add_compare_command(CLI::App& app, int& exit_code) {
  auto paths = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("compare", "Show two runs (results folders or run.json files) side by side");
  cmd->add_option("runs", *paths, "RUN_A RUN_B")->required()->expected(2);
  cmd->callback([paths, &exit_code] { exit_code = compare((*paths)[0], (*paths)[1]); });
}

}  // namespace mqlab::cli
