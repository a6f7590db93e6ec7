// RabbitMQ's definitions JSON with nlohmann-json: each section to the broker's own types.
#include "cli/definitions_file.h"

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mqlab::cli {

namespace {

using json = nlohmann::json;
using broker::amqp::field_array;
using broker::amqp::field_table;
using broker::amqp::field_value;

/// A failure at `where` in the file, caught at read_definitions' edge.
struct bad_entry {
  std::string where, why;
};

field_value to_field(const json& v, const std::string& where);

field_table to_table(const json& object, const std::string& where) {
  if (!object.is_object()) throw bad_entry{where, "must be an object"};
  field_table t;
  for (const auto& [key, value] : object.items()) t.emplace_back(key, to_field(value, where + "." + key));
  return t;
}

field_value to_field(const json& v, const std::string& where) {
  if (v.is_boolean()) return field_value(v.get<bool>());
  if (v.is_number_integer()) return field_value(v.get<std::int64_t>());
  if (v.is_number_float()) return field_value(v.get<double>());
  if (v.is_string()) return field_value(v.get<std::string>());
  if (v.is_object()) return field_value(to_table(v, where));
  if (v.is_array()) {
    field_array a;
    for (const auto& x : v) a.push_back(to_field(x, where + "[]"));
    return field_value(std::move(a));
  }
  throw bad_entry{where, "null is not an argument value"};
}

std::string text(const json& entry, const char* key, const std::string& where, std::optional<std::string> fallback = {}) {
  if (!entry.contains(key)) {
    if (fallback) return *fallback;
    throw bad_entry{where, fmt::format("'{}' is missing", key)};
  }
  if (!entry[key].is_string()) throw bad_entry{where, fmt::format("'{}' must be a string", key)};
  return entry[key].get<std::string>();
}

bool flag(const json& entry, const char* key, const std::string& where, bool fallback) {
  if (!entry.contains(key)) return fallback;
  if (!entry[key].is_boolean()) throw bad_entry{where, fmt::format("'{}' must be true or false", key)};
  return entry[key].get<bool>();
}

/// Calls f(entry, "section[i]") for each entry of an optional array section.
template <typename F>
void each(const json& doc, const char* section, F&& f) {
  if (!doc.contains(section)) return;
  if (!doc[section].is_array()) throw bad_entry{section, "must be an array"};
  for (std::size_t i = 0; i < doc[section].size(); ++i) {
    const std::string where = fmt::format("{}[{}]", section, i);
    if (!doc[section][i].is_object()) throw bad_entry{where, "must be an object"};
    f(doc[section][i], where);
  }
}

definitions_file parse(const json& doc) {
  if (!doc.is_object()) throw bad_entry{"the top level", "must be an object"};
  definitions_file d;
  each(doc, "users", [&](const json& u, const std::string& where) {
    if (u.contains("password_hash")) {
      throw bad_entry{where, "'password_hash' is not supported: give the user a plain 'password'"};
    }
    d.users.push_back({text(u, "name", where), text(u, "password", where)});
  });
  each(doc, "vhosts", [&](const json& v, const std::string& where) { d.vhosts.push_back(text(v, "name", where)); });
  each(doc, "permissions", [&](const json& p, const std::string& where) {
    net::amqp::permission rule{text(p, "user", where), text(p, "vhost", where), text(p, "configure", where),
                               text(p, "write", where), text(p, "read", where)};
    if (auto bad = net::amqp::invalid_pattern(rule)) throw bad_entry{where, *bad};
    d.permissions.push_back(std::move(rule));
  });
  each(doc, "exchanges", [&](const json& e, const std::string& where) {
    d.declared.exchanges.push_back(
        {text(e, "vhost", where, "/"),
         {text(e, "name", where), text(e, "type", where, "direct"), false, flag(e, "durable", where, true),
          flag(e, "auto_delete", where, false), flag(e, "internal", where, false),
          e.contains("arguments") ? to_table(e["arguments"], where + ".arguments") : field_table{}}});
  });
  each(doc, "queues", [&](const json& q, const std::string& where) {
    d.declared.queues.push_back(
        {text(q, "vhost", where, "/"),
         {text(q, "name", where), false, flag(q, "durable", where, true), false, flag(q, "auto_delete", where, false),
          q.contains("arguments") ? to_table(q["arguments"], where + ".arguments") : field_table{}},
         broker::node_id{0}});
  });
  each(doc, "bindings", [&](const json& b, const std::string& where) {
    const std::string kind = text(b, "destination_type", where, "queue");
    if (kind != "queue" && kind != "exchange") throw bad_entry{where, "'destination_type' must be queue or exchange"};
    d.declared.bindings.push_back({text(b, "vhost", where, "/"), text(b, "source", where), text(b, "destination", where),
                                   kind == "exchange", text(b, "routing_key", where, ""),
                                   b.contains("arguments") ? to_table(b["arguments"], where + ".arguments") : field_table{}});
  });
  return d;
}

}  // namespace

std::expected<definitions_file, std::string> read_definitions(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("--definitions {}: cannot be read", path.string()));
  try {
    return parse(json::parse(in));
  } catch (const json::parse_error& e) {
    return std::unexpected(fmt::format("--definitions {}: not JSON: {}", path.string(), e.what()));
  } catch (const bad_entry& e) {
    return std::unexpected(fmt::format("--definitions {}: {}: {}", path.string(), e.where, e.why));
  }
}

}  // namespace mqlab::cli
