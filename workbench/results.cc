// JSON and CSV writers for run results.
#include "workbench/results.h"

#include <fstream>

#include <fmt/format.h>

namespace mqlab::workbench {

namespace {

// (latency in seconds, fraction of samples at or below it), one point per histogram bucket.
nlohmann::json cdf(const sim::histogram& h) {
  nlohmann::json points = nlohmann::json::array();
  std::uint64_t seen = 0;
  h.for_each_bucket([&](std::int64_t value, std::uint64_t count) {
    seen += count;
    points.push_back({value * 1e-9, static_cast<double>(seen) / static_cast<double>(h.count())});
  });
  return points;
}

}  // namespace

nlohmann::json to_json(const scenario& sc, const run_result& r, const std::string& mode) {
  nlohmann::json j;
  j["scenario"] = {{"name", sc.name}, {"title", sc.title}, {"description", sc.description}, {"lesson", sc.lesson}};
  j["mode"] = mode;
  j["seed"] = sc.seed;
  j["replications"] = sc.replications;
  j["version"] = "0.1.0";
  for (const auto& v : r.variants) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [k, m] : v.metrics) metrics[k] = {{"mean", m.mean}, {"ci95", m.ci95}};
    j["variants"].push_back({{"name", v.name},
                             {"metrics", metrics},
                             {"series", v.series},
                             {"sample_interval", v.sample_interval_seconds},
                             {"response_cdf", cdf(v.response)},
                             {"e2e_cdf", cdf(v.e2e)},
                             {"events", v.events}});
  }
  j["expectations"] = nlohmann::json::array();
  for (const auto& e : r.expectations) {
    j["expectations"].push_back({{"metric", e.expected.metric},
                                 {"expect", e.expected.text},
                                 {"actual", e.found ? nlohmann::json(e.actual) : nlohmann::json(nullptr)},
                                 {"pass", e.passed}});
  }
  j["passed"] = r.all_passed();
  return j;
}

std::expected<void, std::string> write_results(const std::filesystem::path& dir, const scenario& sc, const run_result& r,
                                               const std::string& mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected(fmt::format("{}: {}", dir.string(), ec.message()));
  std::ofstream json(dir / "run.json");
  json << to_json(sc, r, mode).dump(2) << "\n";
  std::ofstream metrics(dir / "metrics.csv");
  metrics << "variant,metric,mean,ci95\n";
  for (const auto& v : r.variants) {
    for (const auto& [k, m] : v.metrics) metrics << fmt::format("{},{},{},{}\n", v.name, k, m.mean, m.ci95);
  }
  std::ofstream series(dir / "series.csv");
  series << "variant,series,time,value\n";
  for (const auto& v : r.variants) {
    for (const auto& [k, xs] : v.series) {
      for (std::size_t i = 0; i < xs.size(); ++i) {
        series << fmt::format("{},{},{},{}\n", v.name, k, static_cast<double>(i + 1) * v.sample_interval_seconds, xs[i]);
      }
    }
  }
  if (!json || !metrics || !series) return std::unexpected(fmt::format("{}: write failed", dir.string()));
  return {};
}

std::filesystem::path results_dir(const std::filesystem::path& root, const scenario& sc, const std::string& timestamp) {
  return root / sc.name / timestamp;
}

}  // namespace mqlab::workbench
