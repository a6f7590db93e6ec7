// What `mqlab calibrate` found, written as a profile (profiles/NAME.yaml) that scenarios can
// name: the fitted costs with their sources, and under `calibration:` every raw measurement
// they came from, the machine and the date, so that a profile can be checked and redone.
#pragma once

#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/system.h"
#include "workbench/calibration.h"

namespace mqlab::workbench {

struct kafka_probe_record {
  kafka_probe probe;
  kafka_batching batching;
  probe_work work;  // per record
  probe_measurement measured;
};

/// Kafka's clients' CPU: per record (produced and consumed) and per request (a produce request
/// or a fetch's answer), in ns.
struct kafka_client_costs {
  double record_ns = 0, request_ns = 0;
};
/// Fits them to the Kafka prober's CPU time per record: the probes batch differently (one
/// record a request against thousands), which tells the two apart.
std::expected<kafka_client_costs, std::string> fit_kafka_client_costs(std::span<const kafka_probe_record> probes);

struct calibration_record {
  std::string name, title, date, command;
  std::string target, kafka_target;  // the AMQP and the Kafka broker calibrated (either may be empty)
  std::uint32_t amqp_nodes = 1;      // the AMQP cluster's nodes given (its cluster probes run when 2 or more)
  std::string cpu_model;  // as /proc/cpuinfo names it
  int machine_cores = 0;
  int cores = 1;          // the profile's node.cores: the broker's cores when it has the machine to itself
  int write_coalescing_us = 0;  // node.write_coalescing, as told (mqlab calibrate --write-coalescing-us)
  std::vector<probe_record> probes;
  fitted_costs fit;  // AMQP
  std::vector<kafka_probe_record> kafka_probes;
  fitted_costs kafka_fit;
  std::vector<double> round_trips;                                // seconds
  std::vector<double> confirm_transient, confirm_persistent;      // seconds
  std::vector<double> wake;                                       // seconds a sleeping thread woke late
  std::vector<double> stalls;                                     // seconds a running thread was stopped
  double stall_watch = 0;                                         // seconds it was watched for them
  std::optional<double> wake_up_cpu;                              // seconds of CPU a socket's byte wakes a thread for
  std::optional<double> fresh_memory_cpu;                         // seconds of CPU a first touch costs a byte
  std::optional<client_costs> clients;                            // fitted to the AMQP prober's CPU
  std::optional<kafka_client_costs> kafka_clients;                // fitted to the Kafka prober's CPU
  models::cost_model prior;  // where unmeasured costs and resources come from
  std::string prior_name;
};

/// The addresses of a HOST:PORT[,HOST:PORT...] list, as written (unchecked).
std::vector<std::string_view> address_list(std::string_view list);

/// Whether every broker calibrated listens on this machine (127.0.0.0/8, ::1, localhost): the
/// broker and the prober then shared its cores, and the profile says so (`host`).
bool on_this_machine(const calibration_record& r);

/// The cores the broker had during a probe: those it kept busy when its CPU time was measured
/// (so a probe the prober could not saturate still says what the broker's work costs), else
/// the profile's, less what the prober itself kept busy when both share the machine's cores
/// (at least a tenth of one).
double broker_cores(const calibration_record& r, const probe_measurement& m);

/// The one-way client link latency the round trips imply (half the median), in seconds; the
/// prior's mean when no AMQP round trips were measured.
double link_latency(const calibration_record& r);
/// How late a sleeping thread woke, the median of the sleeps measured, in seconds (0: none).
double wake_latency(const calibration_record& r);
/// What a persistent confirm waits beyond a transient one (median against median), in seconds;
/// 0 when the broker did not wait for a disk (or no confirms were measured).
double fsync_wait(const calibration_record& r);

/// The sleeps' overshoots a client host meets: those within 4 times the median. Later ones
/// are an idle virtual CPU descheduled by the hypervisor, which a busy host is not; its own
/// stalls are measured apart (running_stalls).
std::vector<double> wake_body(const std::vector<double>& late);

/// The profile as YAML text; load_profile reads it back.
std::string profile_yaml(const calibration_record& r);

}  // namespace mqlab::workbench
