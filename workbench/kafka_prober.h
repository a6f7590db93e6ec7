// Drives a running Kafka broker through calibration probes with librdkafka: each probe creates
// a topic of its own, a producer (sixteen, one request in flight each, for the probe whose
// requests come one at a time) produces into it as fast as the broker acknowledges, a consumer
// assigned every partition reads the records back as they come, and the rate is read between
// two checkpoints after a warm-up. The clients' own statistics say how they batched: records
// per produced batch and per fetch. Every wait is bounded: a broker that stops answering ends
// the probe with the reason.
#pragma once

#include <expected>
#include <string>

#include "workbench/amqp_prober.h"
#include "workbench/calibration.h"

namespace mqlab::workbench {

struct kafka_measurement {
  probe_measurement measured;  // records acknowledged to the producer; client_cpu is the whole prober's
  kafka_batching batching;
};

class kafka_prober {
 public:
  /// `bootstrap`: HOST:PORT[,HOST:PORT...] as librdkafka's bootstrap.servers.
  /// `broker` reads the broker's CPU time at a probe's checkpoints, if its pid was given.
  kafka_prober(std::string bootstrap, probe_timing timing, broker_cpu_meter broker = broker_cpu_meter())
      : bootstrap_(std::move(bootstrap)), timing_(timing), broker_(broker) {}

  /// Asks for the cluster's metadata: how many brokers it has, or the reason if none answers.
  std::expected<int, std::string> check();
  /// Runs one probe at saturation.
  std::expected<kafka_measurement, std::string> saturate(const kafka_probe& p);

 private:
  std::string bootstrap_;
  probe_timing timing_;
  broker_cpu_meter broker_;
};

}  // namespace mqlab::workbench
