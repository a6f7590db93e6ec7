// Net mode's JMS side: the scenario's ActiveMQ-style broker served as `mqlab broker
// --stomp-port` serves it (the STOMP server on a loopback port, on an event-loop thread of its
// own), sends written by a STOMP producer, and every consumer member a STOMP client of its own
// that waits out its service time in (wall-clock paced) simulation time and acknowledges after
// it. Offline windows close and reopen the members' connections for real. It reports the metrics
// the simulated side reports (models::jms_tally).
#pragma once

#include <memory>

#include "models/jms_side.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::workbench {

/// The real JMS side, or the simulated (idle) one if the system sends nothing and has no consumers.
std::unique_ptr<models::jms_side> make_net_jms(sim::simulator& sim, const models::system_spec& spec,
                                               const sim::random_streams& streams);

}  // namespace mqlab::workbench
