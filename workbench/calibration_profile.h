// What `mqlab calibrate` found, written as a profile (profiles/NAME.yaml) that scenarios can
// name: the fitted costs with their sources, and under `calibration:` every raw measurement
// they came from, the machine and the date, so that a profile can be checked and redone.
#pragma once

#include <string>
#include <vector>

#include "models/system.h"
#include "workbench/calibration.h"

namespace mqlab::workbench {

struct probe_record {
  amqp_probe probe;
  probe_work work;
  probe_measurement measured;
};

struct calibration_record {
  std::string name, title, date, command, target;
  std::string cpu_model;  // as /proc/cpuinfo names it
  int machine_cores = 0;
  int cores = 1;          // the profile's node.cores: the broker's cores when it has the machine to itself
  std::vector<probe_record> probes;
  fitted_costs fit;
  std::vector<double> round_trips;                                // seconds
  std::vector<double> confirm_transient, confirm_persistent;      // seconds
  models::cost_model prior;  // where unmeasured costs and resources come from
  std::string prior_name;
};

/// The cores the broker had during probe `p`: the profile's, less what the prober itself kept
/// busy when both share the machine's cores (at least a tenth of one).
double broker_cores(const calibration_record& r, const probe_record& p);

/// The one-way client link latency the round trips imply (half the median), in seconds.
double link_latency(const calibration_record& r);
/// What a persistent confirm waits beyond a transient one (median against median), in seconds;
/// 0 when the broker did not wait for a disk.
double fsync_wait(const calibration_record& r);

/// The profile as YAML text; load_profile reads it back.
std::string profile_yaml(const calibration_record& r);

}  // namespace mqlab::workbench
