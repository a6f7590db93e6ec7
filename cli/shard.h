// Slices of a sweep or a plan run as separate processes (`--shard I/N --out DIR`): which slice
// this process runs, where it writes its part, and the checks `mqlab merge` makes on the parts.
#pragma once

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mqlab::cli {

struct shard_spec {
  std::size_t index = 0, count = 1;  // 0-based index of `count`
};

/// A count in the environment variable `name`, if it is set to one.
std::optional<std::size_t> count_in(const char* name);

/// "I/N" (1 <= I <= N), or "auto": a Slurm job array's task (SLURM_ARRAY_TASK_ID, _MIN, _COUNT)
/// or a Kubernetes Indexed Job's (JOB_COMPLETION_INDEX, counted from 0, with MQLAB_SHARD_COUNT
/// set to the job's completions).
std::expected<shard_spec, std::string> parse_shard(const std::string& text);

/// Writes `part` (whose "shard" and "shards" say which it is) to DIR/shard-I-of-N.json; the file
/// written, or why not.
std::expected<std::string, std::string> write_part(const nlohmann::json& part, const std::string& dir);

/// Every shard-*.json in `dirs`; throws naming a folder that cannot be read or a part that is
/// not JSON.
std::vector<nlohmann::json> read_parts(const std::vector<std::string>& dirs);

/// Checks that `parts` are the N shards of one job (the same `job` field and N), each once;
/// throws naming the first that does not fit.
void check_parts(const std::vector<nlohmann::json>& parts, const char* job);

}  // namespace mqlab::cli
