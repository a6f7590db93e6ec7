// Net mode's AMQP side: the scenario's broker (and cluster) served as `mqlab broker` serves it,
// the AMQP server on loopback ports on an event-loop thread of its own, with the scenario's
// topology loaded at boot; the producer and every consumer are AMQP clients over TCP, driven on
// the paced simulation thread. Faults act for real: a crashed node's sockets close, a killed
// consumer's connection drops without a goodbye and the broker requeues what it held.
#pragma once

#include <memory>

#include "models/amqp_side.h"
#include "sim/simulator.h"

namespace mqlab::workbench {

/// The real AMQP side, or the simulated one if the system uses no AMQP broker.
std::unique_ptr<models::amqp_side> make_net_amqp(sim::simulator& sim, const models::system_spec& spec);

}  // namespace mqlab::workbench
