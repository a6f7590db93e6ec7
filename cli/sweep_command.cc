// Sweeps run the scenario once per combination of --vary values (points and each point's
// replications on parallel threads, slices of the points in shards or on MPI ranks) and print one
// row per combination; merge joins shards' parts; compare reads two run.json files.
#include "cli/sweep_command.h"

#include <atomic>
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
#include <QtCharts/QChart>
#include <nlohmann/json.hpp>

#include "cli/progress.h"
#include "cli/plan_command.h"
#include "cli/ranks.h"
#include "cli/shard.h"
#include "gui/charts.h"
#include "workbench/number.h"
#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace mqlab::cli {

using workbench::parse_number;
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

/// The points of a sweep: every combination of the axes' values, each a loaded scenario.
struct sweep_points {
  std::vector<axis> axes;
  std::vector<workbench::overrides> combos;
  std::vector<workbench::scenario> scenarios;
};

/// Parses the axes and loads every combination before any runs; a message naming the problem
/// (and the combination) otherwise.
std::expected<sweep_points, std::string> load_points(const sweep_options& o) {
  sweep_points s;
  for (const auto& v : o.vary) {
    auto a = parse_axis(v);
    if (!a) return std::unexpected("mqlab sweep: " + a.error() + "\n");
    s.axes.push_back(std::move(*a));
  }
  if (s.axes.empty() || s.axes.size() > 2) return std::unexpected("mqlab sweep: give one or two --vary PATH=VALUES\n");
  s.combos = {{}};
  for (const auto& a : s.axes) {
    std::vector<workbench::overrides> next;
    for (const auto& base : s.combos) {
      for (const auto& v : a.values) {
        auto c = base;
        c.emplace_back(a.path, v);
        next.push_back(std::move(c));
      }
    }
    s.combos = std::move(next);
  }
  for (const auto& c : s.combos) {
    auto sc = workbench::load_scenario(o.file, c);
    if (!sc) {
      std::string where;
      for (const auto& [p, v] : c) where += fmt::format(" {}={}", p, v);
      return std::unexpected(fmt::format("with{}:\n{}", where, sc.error().format(o.file)));
    }
    s.scenarios.push_back(std::move(*sc));
  }
  return s;
}

/// A whole sweep: what its parts share (file, axes, metrics, the table's and CSV's headers) and
/// its rows in point order, each with its table line, CSV line and, when it has one numeric
/// axis, the value on it ("x") and each metric's mean ("means", null where missing).
struct sweep_table {
  nlohmann::json info;
  nlohmann::json rows = nlohmann::json::array();
};

/// Joins parts written by shards or gathered from ranks, checked to be the slices of one sweep
/// with every point once; throws naming what does not fit.
sweep_table join_parts(const std::vector<nlohmann::json>& parts) {
  check_parts(parts, "sweep");
  const auto& first = parts.front();
  const auto total = first.at("points").get<std::size_t>();
  std::vector<const nlohmann::json*> rows(total);
  for (const auto& part : parts) {
    if (part.at("points") != first.at("points")) throw std::runtime_error("the parts count different points");
    for (const auto& row : part.at("rows")) {
      const auto point = row.at("point").get<std::size_t>();
      if (point >= total || rows[point]) throw std::runtime_error(fmt::format("point {} twice or out of range", point));
      rows[point] = &row;
    }
  }
  sweep_table t{first, nlohmann::json::array()};
  t.info.erase("rows");
  for (const auto* row : rows) {
    if (row == nullptr) throw std::runtime_error("a point no shard ran");
    t.rows.push_back(*row);
  }
  return t;
}

std::string table_text(const sweep_table& t) {
  std::string text = t.info.at("header").get<std::string>();
  for (const auto& row : t.rows) text += row.at("line").get<std::string>();
  return text;
}

/// Writes the sweep's CSV and chart where asked; throws naming what cannot be written.
void write_outputs(const sweep_table& t, const std::string& csv_file, const std::string& png) {
  if (!png.empty()) {
    const auto metrics = t.info.at("sweep").at("metrics").get<std::vector<std::string>>();
    std::vector<gui::sweep_series> series;
    for (const auto& m : metrics) series.push_back({m, {}});
    for (const auto& row : t.rows) {
      if (!row.contains("x")) throw std::runtime_error("--png draws one numeric --vary; this sweep has another kind");
      for (std::size_t k = 0; k < metrics.size(); ++k) {
        const auto& mean = row.at("means").at(k);
        if (!mean.is_null()) series[k].points.emplace_back(row.at("x").get<double>(), mean.get<double>());
      }
    }
    gui::prepare_headless_environment();
    gui::ensure_application();
    const auto axis_path = t.info.at("axis").get<std::string>();
    auto chart = gui::make_sweep_chart(fmt::format("{}: sweep of {}", t.info.at("name").get<std::string>(), axis_path), axis_path, series);
    if (!chart || !gui::render_png(*chart, png, 1000, 600)) throw std::runtime_error("cannot write " + png);
    fmt::print("chart in {}\n", png);
  }
  if (!csv_file.empty()) {
    std::ofstream out(csv_file);
    out << t.info.at("csv_header").get<std::string>();
    for (const auto& row : t.rows) out << row.at("csv").get<std::string>();
    if (!out) throw std::runtime_error("cannot write " + csv_file);
  }
}

/// Which slice of the points this process runs: the --shard given, or its MPI rank's.
std::expected<shard_spec, std::string> slice_of(const sweep_options& o, const ranks& world) {
  if (o.shard.empty()) return shard_spec{world.rank(), world.size()};
  if (world.size() > 1) return std::unexpected("--shard and mpirun both slice the points; give one");
  auto parsed = parse_shard(o.shard);
  if (parsed && (o.out.empty() || !o.png.empty() || !o.csv.empty())) {
    return std::unexpected("--shard writes its part to --out DIR (mqlab merge draws the table, CSV and chart of all "
                           "parts); give --out, not --csv or --png");
  }
  return parsed;
}

int sweep(const sweep_options& o, const ranks& world) {
  auto loaded = load_points(o);
  if (!loaded) {
    fmt::print(stderr, "{}", loaded.error());
    return 2;
  }
  const auto& [axes, combos, scenarios] = *loaded;
  std::vector<std::string> metrics = o.metrics;
  if (metrics.empty()) {
    for (const auto& v : scenarios.front().variants) metrics.push_back(v.name + ".response.mean");
  }
  const bool numeric_axis = axes.size() == 1 && std::all_of(axes[0].values.begin(), axes[0].values.end(),
                                                             [](const std::string& v) { return parse_number<double>(v).has_value(); });
  if (!o.png.empty() && !numeric_axis) {
    fmt::print(stderr, "mqlab sweep: --png draws one numeric --vary; give one with numbers\n");
    return 2;
  }
  const auto shard = slice_of(o, world);
  if (!shard) {
    fmt::print(stderr, "mqlab sweep: {}\n", shard.error());
    return 2;
  }
  std::size_t width = 22;
  for (const auto& m : metrics) width = std::max(width, m.size() + 2);
  std::string header, csv_header;
  for (const auto& a : axes) {
    header += fmt::format("{:>{}}", a.path, a.path.size() + 2);
    csv_header += a.path + ",";
  }
  for (const auto& m : metrics) {
    header += fmt::format("{:>{}}", m, width);
    csv_header += m + "," + m + ".ci95,";
  }
  csv_header += "expectations_passed\n";
  nlohmann::json part{{"sweep", {{"file", o.file}, {"vary", o.vary}, {"metrics", metrics}}},
                      {"name", scenarios.front().name}, {"axis", axes[0].path},
                      {"shard", shard->index + 1}, {"shards", shard->count}, {"points", scenarios.size()},
                      {"header", fmt::format("{}{:>8}\n", header, "expect")}, {"csv_header", csv_header},
                      {"rows", nlohmann::json::array()}};
  // One process prints rows as they finish; a slice's rows are printed by whoever joins them.
  const bool whole = shard->count == 1;
  if (whole) fmt::print("{}", part["header"].get<std::string>());
  std::vector<std::size_t> points;
  for (std::size_t i = shard->index; i < scenarios.size(); i += shard->count) points.push_back(i);
  progress_bar bar("sweeping", !o.quiet);
  int done = 0;
  run_points(scenarios, points, o.jobs, [&](std::size_t i, const workbench::run_result& r) {
    bar.update(++done, static_cast<int>(points.size()));
    std::string line, csv_line;
    for (std::size_t k = 0; k < combos[i].size(); ++k) {
      const auto& value = combos[i][k].second;
      line += fmt::format("{:>{}}", value, axes[k].path.size() + 2);
      csv_line += value + ",";
    }
    nlohmann::json means = nlohmann::json::array();
    for (const auto& m : metrics) {
      const workbench::metric_value* found = workbench::find_metric(r.variants, m);
      line += fmt::format("{:>{}}", found ? fmt::format("{:.4g} ± {:.2g}", found->mean, found->ci95) : "—", width);
      csv_line += found ? fmt::format("{},{},", found->mean, found->ci95) : ",,";
      means.push_back(found ? nlohmann::json(found->mean) : nlohmann::json());
    }
    csv_line += r.all_passed() ? "true\n" : "false\n";
    line = fmt::format("{}{:>8}\n", line, r.expectations.empty() ? "—" : (r.all_passed() ? "PASS" : "FAIL"));
    nlohmann::json row{{"point", i}, {"line", line}, {"csv", csv_line}, {"means", means}};
    if (numeric_axis) row["x"] = *parse_number<double>(combos[i][0].second);
    part["rows"].push_back(std::move(row));
    if (whole) {
      bar.clear();
      fmt::print("{}", line);
    }
  });
  bar.clear();
  if (!o.shard.empty()) {
    const auto file = write_part(part, o.out);
    if (!file) fmt::print(stderr, "mqlab sweep: {}\n", file.error());
    else if (!o.quiet) fmt::print(stderr, "shard {} of {}: {} points in {}\n", shard->index + 1, shard->count, points.size(), *file);
    return file ? 0 : 2;
  }
  try {
    std::vector<nlohmann::json> parts;
    for (const auto& text : world.gather(part.dump())) parts.push_back(nlohmann::json::parse(text));
    if (parts.empty()) return 0;  // a rank other than 0: rank 0 prints and writes
    const sweep_table table = join_parts(parts);
    if (!whole) fmt::print("{}", table_text(table));
    write_outputs(table, o.csv, o.png);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mqlab sweep: {}\n", e.what());
    return 2;
  }
  return 0;
}

/// The parts `mqlab sweep --shard` (or `mqlab plan --shard`) wrote in `dirs`, checked to be
/// the shards of one job with every point once; printed and written as the whole sweep (or
/// plan) would have printed and written them.
int merge(const std::vector<std::string>& dirs, const std::string& csv_file, const std::string& png, bool json) {
  try {
    const auto parts = read_parts(dirs);
    if (parts.front().contains("plan")) return merge_plan(parts, json);
    const sweep_table table = join_parts(parts);
    fmt::print("{}", table_text(table));
    write_outputs(table, csv_file, png);
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
  cmd->callback([o, cmd, &exit_code] {
    auto world = ranks::join();
    if (!world) {
      fmt::print(stderr, "mqlab sweep: {}\n", world.error());
      exit_code = 2;
      return;
    }
    // Ranks sharing a machine share its cores.
    if (cmd->count("--jobs") == 0) o->jobs = static_cast<unsigned>(std::max<std::size_t>(1, o->jobs / std::max<std::size_t>(1, count_in("OMPI_COMM_WORLD_LOCAL_SIZE").value_or(1))));
    exit_code = sweep(*o, *world);
  });
}

void add_merge_command(CLI::App& app, int& exit_code) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto csv = std::make_shared<std::string>(), png = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("merge", "Join the parts of a sweep or plan run with --shard into its table, CSV and "
                                          "chart, or the plan's answer");
  cmd->add_option("dirs", *dirs, "Folders holding the parts (shard-I-of-N.json)")->required();
  cmd->add_option("--csv", *csv, "Also write a sweep's table as CSV to this file");
  cmd->add_option("--png", *png, "Also draw a sweep's metrics against the varied value (one numeric --vary) to this PNG");
  cmd->add_flag("--json", *json, "Print a plan's answer as mqlab plan --json does");
  cmd->callback([dirs, csv, png, json, &exit_code] { exit_code = merge(*dirs, *csv, *png, *json); });
}

void add_compare_command(CLI::App& app, int& exit_code) {
  auto paths = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("compare", "Show two runs (results folders or run.json files) side by side");
  cmd->add_option("runs", *paths, "RUN_A RUN_B")->required()->expected(2);
  cmd->callback([paths, &exit_code] { exit_code = compare((*paths)[0], (*paths)[1]); });
}

}  // namespace mqlab::cli
