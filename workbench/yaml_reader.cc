// Located getters for scalars, durations, rates and distributions.
#include "workbench/yaml_reader.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace mqlab::workbench {
namespace {

std::string scalar_of(const YAML::Node& n) { return n.IsScalar() ? n.Scalar() : std::string("(not a scalar)"); }

std::optional<double> to_double(const std::string& s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

void yaml_reader::error(const YAML::Node& at, const std::string& message) {
  const YAML::Mark m = at.IsDefined() ? at.Mark() : YAML::Mark::null_mark();
  if (m.is_null()) d_.add(0, 0, message);
  else d_.add(m.line + 1, m.column + 1, message);
}

void yaml_reader::check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                             std::string_view where) {
  if (!map.IsMap()) return;
  std::vector<std::string> names(allowed.begin(), allowed.end());
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    const std::string hint = nearest(key, names);
    error(kv.first, hint.empty() ? fmt::format("unknown key '{}' in {} (allowed: {})", key, where, fmt::join(names, ", "))
                                 : fmt::format("unknown key '{}' in {} (did you mean '{}'?)", key, where, hint));
  }
}

bool yaml_reader::is_map(const YAML::Node& n, std::string_view what) {
  if (n.IsMap()) return true;
  error(n, fmt::format("{} must be a mapping of keys to values", what));
  return false;
}

bool yaml_reader::require(const YAML::Node& map, std::string_view key, std::string_view where) {
  if (map[std::string(key)]) return true;
  error(map, fmt::format("missing required key '{}' in {}", key, where));
  return false;
}

std::optional<std::string> yaml_reader::text(const YAML::Node& n, std::string_view what) {
  if (n.IsScalar()) return n.Scalar();
  error(n, fmt::format("{} must be a string", what));
  return std::nullopt;
}

std::optional<double> yaml_reader::number(const YAML::Node& n, std::string_view what) {
  if (n.IsScalar()) {
    if (auto v = to_double(n.Scalar())) return v;
  }
  error(n, fmt::format("{} must be a number, got '{}'", what, scalar_of(n)));
  return std::nullopt;
}

std::optional<std::int64_t> yaml_reader::integer(const YAML::Node& n, std::string_view what, std::int64_t min,
                                                 std::int64_t max) {
  std::int64_t v = 0;
  const std::string s = n.IsScalar() ? n.Scalar() : std::string();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!n.IsScalar() || ec != std::errc() || end != s.data() + s.size()) {
    error(n, fmt::format("{} must be an integer, got '{}'", what, scalar_of(n)));
    return std::nullopt;
  }
  if (v < min || v > max) {
    error(n, fmt::format("{} must be between {} and {}, got {}", what, min, max, v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> yaml_reader::boolean(const YAML::Node& n, std::string_view what) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  error(n, fmt::format("{} must be true or false, got '{}'", what, scalar_of(n)));
  return std::nullopt;
}

std::optional<sim::duration> yaml_reader::duration(const YAML::Node& n, std::string_view what) {
  if (!n.IsScalar()) {
    error(n, fmt::format("{} must be a duration such as 250us, 5ms, 2.5s, 1m", what));
    return std::nullopt;
  }
  auto d = sim::parse_duration(n.Scalar());
  if (!d) {
    error(n, fmt::format("{}: {}", what, d.error()));
    return std::nullopt;
  }
  if (d->ns() < 0) {
    error(n, fmt::format("{} must not be negative, got {}", what, n.Scalar()));
    return std::nullopt;
  }
  return *d;
}

std::optional<double> yaml_reader::rate(const YAML::Node& n, std::string_view what) {
  if (!n.IsScalar()) {
    error(n, fmt::format("{} must be a rate such as 200/s", what));
    return std::nullopt;
  }
  auto r = sim::parse_rate(n.Scalar());
  if (!r) {
    error(n, fmt::format("{}: {}", what, r.error()));
    return std::nullopt;
  }
  if (!(*r > 0)) {
    error(n, fmt::format("{} must be positive, got {}", what, n.Scalar()));
    return std::nullopt;
  }
  return *r;
}

std::optional<sim::distribution> yaml_reader::time_distribution(const YAML::Node& n, std::string_view what) {
  if (n.IsScalar()) {
    auto d = duration(n, what);
    if (!d) return std::nullopt;
    return sim::distribution::constant(d->seconds());
  }
  if (!is_map(n, what)) return std::nullopt;
  check_keys(n, {"dist", "mean", "cv", "k", "min", "max", "stddev", "alpha", "scale", "file", "column", "values"}, what);
  const std::string kind = n["dist"] ? text(n["dist"], "dist").value_or("") : "exp";
  auto mean = [&]() -> std::optional<double> {
    if (!require(n, "mean", what)) return std::nullopt;
    auto d = duration(n["mean"], "mean");
    if (d && d->ns() == 0) {
      error(n["mean"], "mean must be positive");
      return std::nullopt;
    }
    return d ? std::optional<double>(d->seconds()) : std::nullopt;
  };
  auto positive = [&](const char* key) -> std::optional<double> {
    if (!require(n, key, what)) return std::nullopt;
    auto v = number(n[key], key);
    if (v && !(*v > 0)) {
      error(n[key], fmt::format("{} must be positive", key));
      return std::nullopt;
    }
    return v;
  };
  auto seconds = [&](const char* key) -> std::optional<double> {
    if (!require(n, key, what)) return std::nullopt;
    auto d = duration(n[key], key);
    return d ? std::optional<double>(d->seconds()) : std::nullopt;
  };
  if (kind == "const" || kind == "constant") {
    if (auto m = mean()) return sim::distribution::constant(*m);
  } else if (kind == "exp" || kind == "exponential") {
    if (auto m = mean()) return sim::distribution::exponential(*m);
  } else if (kind == "erlang") {
    auto m = mean();
    auto k = n["k"] ? integer(n["k"], "k", 1, sim::max_erlang_k) : std::nullopt;
    if (!n["k"]) require(n, "k", what);
    if (m && k) return sim::distribution::erlang(static_cast<int>(*k), *m);
  } else if (kind == "lognormal") {
    auto m = mean();
    auto cv = positive("cv");
    if (m && cv) return sim::distribution::lognormal(*m, *cv);
  } else if (kind == "hyperexp") {
    auto m = mean();
    auto cv = positive("cv");
    if (cv && *cv < 1) error(n["cv"], "hyperexponential cv must be at least 1");
    else if (m && cv) return sim::distribution::hyperexponential(*m, *cv);
  } else if (kind == "uniform") {
    auto lo = seconds("min");
    auto hi = seconds("max");
    if (lo && hi && *hi < *lo) error(n["max"], "max must not be below min");
    else if (lo && hi) return sim::distribution::uniform(*lo, *hi);
  } else if (kind == "normal") {
    auto m = mean();
    auto sd = seconds("stddev");
    if (m && sd) return sim::distribution::normal(*m, *sd, 0.0);
  } else if (kind == "pareto") {
    auto alpha = positive("alpha");
    auto scale = seconds("scale");
    if (alpha && scale) return sim::distribution::pareto(*alpha, *scale);
  } else if (kind == "empirical" && n["values"]) {
    return empirical_values(n["values"]);
  } else if (kind == "empirical") {
    auto file = n["file"] ? text(n["file"], "file") : std::nullopt;
    auto column = n["column"] ? text(n["column"], "column") : std::nullopt;
    if (!file || !column) {
      error(n, "an empirical distribution needs 'values' (durations) or 'file' and 'column' (values in seconds)");
    } else if (auto d = sim::distribution::empirical_from_csv(*file, *column)) {
      return *d;
    } else {
      error(n["file"], d.error());
    }
  } else {
    error(n["dist"], fmt::format("unknown distribution '{}' (use const, exp, erlang, lognormal, hyperexp, uniform, "
                                 "normal, pareto, empirical)", kind));
  }
  return std::nullopt;
}

std::optional<sim::distribution> yaml_reader::empirical_values(const YAML::Node& n) {
  if (!n.IsSequence() || n.size() == 0) {
    error(n, "values must be a list of durations, at least one");
    return std::nullopt;
  }
  if (n.size() > max_empirical_values) {
    error(n, fmt::format("{} values, more than the limit of {} (use 'file' and 'column')", n.size(), max_empirical_values));
    return std::nullopt;
  }
  std::vector<double> seconds;
  for (const auto& v : n) {
    auto d = duration(v, "a value");
    if (!d) return std::nullopt;
    seconds.push_back(d->seconds());
  }
  return sim::distribution::empirical(std::move(seconds));
}

std::optional<double> yaml_reader::quantity(const YAML::Node& n, std::string_view what) {
  if (!n.IsScalar()) {
    error(n, fmt::format("{} must be a number, a duration or a rate", what));
    return std::nullopt;
  }
  const std::string& s = n.Scalar();
  if (auto v = to_double(s)) return v;
  if (s.find('/') != std::string::npos) return rate(n, what);
  return duration(n, what).transform([](sim::duration d) { return d.seconds(); });
}

}  // namespace mqlab::workbench
