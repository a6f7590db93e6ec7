// Where the bundled lab scenarios are, for the front ends' lab lists.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace mqlab::workbench {

/// $MQLAB_SCENARIOS, else the nearest "scenarios" folder above the running executable
/// (build/bin/mqlab -> <repo>/scenarios), else "scenarios".
std::filesystem::path bundled_scenarios_dir();

/// The environment variable `env` if set, else the nearest folder `name` above the running
/// executable, else the one in the source tree mqlab was built from, else `name` (relative to
/// where mqlab runs): where the project's files are.
std::filesystem::path project_dir(const char* env, const char* name);

/// The .yaml files of `dir`, sorted by name; the error names the folder and the cause.
std::expected<std::vector<std::filesystem::path>, std::string> list_scenarios(const std::filesystem::path& dir);

}  // namespace mqlab::workbench
