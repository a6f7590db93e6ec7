// Shard selection from flags and job schedulers' environments, and the parts' files.
#include "cli/shard.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "workbench/number.h"

namespace mqlab::cli {

using workbench::parse_number;

std::optional<std::size_t> count_in(const char* name) {
  const char* text = std::getenv(name);
  return text == nullptr ? std::nullopt : parse_number<std::size_t>(text);
}

std::expected<shard_spec, std::string> parse_shard(const std::string& text) {
  if (text == "auto") {
    if (const auto id = count_in("SLURM_ARRAY_TASK_ID"), n = count_in("SLURM_ARRAY_TASK_COUNT"); id && n && *n > 0) {
      const std::size_t first = count_in("SLURM_ARRAY_TASK_MIN").value_or(0);
      if (*id >= first && *id - first < *n) return shard_spec{*id - first, *n};
    }
    if (const auto id = count_in("JOB_COMPLETION_INDEX"), n = count_in("MQLAB_SHARD_COUNT"); id && n && *id < *n) {
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

std::expected<std::string, std::string> write_part(const nlohmann::json& part, const std::string& dir) {
  const auto file = std::filesystem::path(dir) /
                    fmt::format("shard-{}-of-{}.json", part.at("shard").get<std::size_t>(), part.at("shards").get<std::size_t>());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::ofstream out(file);
  out << part.dump(1) << "\n";
  if (!out) return std::unexpected(fmt::format("cannot write {}", file.string()));
  return file.string();
}

std::vector<nlohmann::json> read_parts(const std::vector<std::string>& dirs) {
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
        throw std::runtime_error(fmt::format("{}: not a part: {}", entry.path().string(), e.what()));
      }
    }
    if (ec) throw std::runtime_error(fmt::format("{}: {}", dir, ec.message()));
  }
  if (parts.empty()) throw std::runtime_error(fmt::format("no shard-*.json parts in {}", fmt::join(dirs, ", ")));
  return parts;
}

void check_parts(const std::vector<nlohmann::json>& parts, const char* job) {
  const auto& first = parts.at(0);
  const auto shards = first.at("shards").get<std::size_t>();
  std::vector<bool> seen(shards + 1);
  for (const auto& part : parts) {
    if (!part.contains(job) || part.at(job) != first.at(job) || part.at("shards") != first.at("shards")) {
      throw std::runtime_error(fmt::format("shard {} is of another {} than shard {}", part.at("shard").dump(), job,
                                           first.at("shard").dump()));
    }
    const auto shard = part.at("shard").get<std::size_t>();
    if (shard < 1 || shard > shards || seen[shard]) throw std::runtime_error(fmt::format("shard {} of {} twice or out of range", shard, shards));
    seen[shard] = true;
  }
  for (std::size_t k = 1; k <= shards; ++k) {
    if (!seen[k]) throw std::runtime_error(fmt::format("shard {} of {} is missing", k, shards));
  }
}

}  // namespace mqlab::cli
