// The results of a run as files: run.json (everything), metrics.csv and series.csv.
#pragma once

#include <expected>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "workbench/runner.h"
#include "workbench/scenario.h"

namespace mqlab::workbench {

/// run.json's content. Only deterministic values: the same scenario and seed give the same JSON.
nlohmann::json to_json(const scenario& sc, const run_result& r, const std::string& mode = "sim");

/// Writes run.json, metrics.csv and series.csv into `dir` (created if needed).
std::expected<void, std::string> write_results(const std::filesystem::path& dir, const scenario& sc, const run_result& r,
                                               const std::string& mode = "sim");

/// results/<name>/<timestamp>/ under `root`; the timestamp is supplied by the caller (UTC, yyyymmdd-hhmmss).
std::filesystem::path results_dir(const std::filesystem::path& root, const scenario& sc, const std::string& timestamp);

}  // namespace mqlab::workbench
