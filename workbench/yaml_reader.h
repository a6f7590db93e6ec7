// Typed, located reading of YAML nodes: each getter reports a problem at the node's line and
// column and returns nothing, so parsing goes on and every error is collected.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "sim/distribution.h"
#include "sim/time.h"
#include "workbench/diagnostics.h"

namespace mqlab::workbench {

class yaml_reader {
 public:
  explicit yaml_reader(diagnostics& d) : d_(d) {}

  void error(const YAML::Node& at, const std::string& message);
  /// Reports keys of `map` not in `allowed`, with the nearest allowed key as a hint.
  void check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed, std::string_view where);
  bool is_map(const YAML::Node& n, std::string_view what);
  /// Reports a missing required key of `map` at the map itself.
  bool require(const YAML::Node& map, std::string_view key, std::string_view where);

  std::optional<std::string> text(const YAML::Node& n, std::string_view what);
  std::optional<double> number(const YAML::Node& n, std::string_view what);
  std::optional<std::int64_t> integer(const YAML::Node& n, std::string_view what, std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(const YAML::Node& n, std::string_view what);
  /// An empirical time distribution given inline: `values: [12us, 30us, ...]`, at most
  /// max_empirical_values of them (a measured series; longer ones belong in a CSV file).
  std::optional<sim::distribution> empirical_values(const YAML::Node& n);
  static constexpr std::size_t max_empirical_values = 10'000;
  std::optional<sim::duration> duration(const YAML::Node& n, std::string_view what);
  /// A positive rate: "200/s", "5000/min" or a bare number per second.
  std::optional<double> rate(const YAML::Node& n, std::string_view what);
  /// A distribution of times in seconds: "50ms" (constant) or {dist: exp, mean: 5ms, ...}.
  std::optional<sim::distribution> time_distribution(const YAML::Node& n, std::string_view what);
  /// A number or a duration (in seconds) or a rate (per second), for expectation values.
  std::optional<double> quantity(const YAML::Node& n, std::string_view what);

 private:
  diagnostics& d_;
};

}  // namespace mqlab::workbench
