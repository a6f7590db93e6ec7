// Drives a running AMQP broker through calibration probes over the network: each probe's
// topology is declared under a prefix of its own, a publisher publishes as fast as the broker
// takes it (bounded by what is unwritten, unconfirmed or unconsumed), and the rate is read
// between two checkpoints after a warm-up; then the topology is deleted. Every wait is bounded:
// a broker that stops answering ends the probe with the reason.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "net/amqp/client.h"
#include "workbench/calibration.h"
#include "workbench/process_cpu.h"

namespace mqlab::workbench {

/// A broker, or the nodes of a cluster (the first holds the probes' queues).
struct amqp_endpoint {
  struct node {
    std::string host;  // an IP address
    std::uint16_t port = 5672;
  };
  std::vector<node> nodes;
  net::amqp::client_login login;  // its host is each node's
};

struct probe_timing {
  std::chrono::milliseconds warmup{500}, measure{2000};
  std::chrono::milliseconds answer{10000};  // longest wait for any reply
};

class amqp_prober {
 public:
  /// `broker` reads the broker's CPU time at a probe's checkpoints, if its pid was given.
  amqp_prober(amqp_endpoint at, probe_timing timing, broker_cpu_meter broker = broker_cpu_meter())
      : at_(std::move(at)), timing_(timing), broker_(broker) {}

  /// Logs in and opens the vhost: the reason if the broker is not there or refuses.
  std::expected<void, std::string> check();
  /// Runs one probe at saturation.
  std::expected<probe_measurement, std::string> saturate(const amqp_probe& p);
  /// `n` round trips of a passive queue.declare, one at a time, in seconds.
  std::expected<std::vector<double>, std::string> round_trips(int n);
  /// `n` publishes of the probe one at a time, each until its confirm: seconds per publish.
  std::expected<std::vector<double>, std::string> confirm_latencies(const amqp_probe& p, int n);

 private:
  amqp_endpoint at_;
  probe_timing timing_;
  broker_cpu_meter broker_;
};

}  // namespace mqlab::workbench
