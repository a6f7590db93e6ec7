// Private to the scenario parser's files: the parser object and the layered view of a variant.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "workbench/scenario.h"
#include "workbench/yaml_reader.h"

// Keys a variant may redefine (a macro so it can seed both an initializer list and a vector).
#define MQLAB_SYSTEM_KEYS                                                                                          \
  "duration", "warmup", "sample_interval", "arrivals", "stations", "broker", "producer", "pipeline", "consumers", \
      "kafka", "jms", "zookeeper", "faults", "profile", "links", "clients", "host"

namespace mqlab::workbench::detail {

// Top-level view of one variant: its own keys first, then the file's.
struct layered {
  YAML::Node base, overlay;
  YAML::Node operator[](const char* key) const {
    if (overlay.IsMap() && overlay[key]) return overlay[key];
    return base[key];
  }
};

class parser {
 public:
  explicit parser(diagnostics& d) : r_(d) {}
  std::optional<scenario> parse(const YAML::Node& root);

 private:
  std::optional<models::system_spec> system(const layered& top, std::string_view variant);
  std::shared_ptr<sim::arrival_process> arrivals(const YAML::Node& n);
  void stations(const YAML::Node& n, models::system_spec& s);
  std::optional<models::pipeline> steps(const YAML::Node& n, const models::system_spec& s, std::string_view where);
  std::optional<models::pipeline_step> step(const YAML::Node& n, const models::system_spec& s);
  std::optional<models::publish_step> publish(const YAML::Node& n, const YAML::Node& cost);
  std::optional<models::retry_policy> retry(const YAML::Node& n);
  void zookeeper(const YAML::Node& n, models::system_spec& s);
  /// A consumer's `fail: {probability}` and `poison: {every}`.
  models::failure_spec failure(const YAML::Node& consumer);
  /// A consumer group's `concurrency: N | MIN-MAX` and `scaling: {...}`.
  void concurrency(const YAML::Node& group, models::consumer_group_spec& c);
  void ack_every(const YAML::Node& group, models::consumer_group_spec& c);
  void broker(const YAML::Node& n, models::system_spec& s);
  void queue(const std::string& name, const YAML::Node& n, models::system_spec& s);
  void consumers(const YAML::Node& n, models::system_spec& s);
  void kafka(const YAML::Node& n, models::system_spec& s);
  std::optional<models::produce_step> produce(const YAML::Node& n, const YAML::Node& cost, const models::system_spec& s);
  void jms(const YAML::Node& n, models::system_spec& s);
  std::optional<models::send_step> send(const YAML::Node& n, const YAML::Node& cost);
  std::optional<broker::jms::destination_kind> jms_destination(const YAML::Node& n, std::string_view where,
                                                               std::string& name);
  void faults(const YAML::Node& n, models::system_spec& s);
  void resource_fault(const YAML::Node& f, models::resource_fault& out);
  /// Resolves a fault's node or consumer group now, so that a run never meets a missing one.
  void check_fault_target(const YAML::Node& f, const models::fault_spec& spec, const models::system_spec& s);
  void check_nodes(const layered& top, const models::system_spec& s);
  void expectations(const YAML::Node& n, scenario& sc);
  void plan(const YAML::Node& n, scenario& sc);
  void commit_mode(const YAML::Node& n, models::kafka_group_spec& spec);

  yaml_reader r_;
};

}  // namespace mqlab::workbench::detail
