// Net mode's Kafka side: the scenario's cluster served as `mqlab broker --kafka-port` serves it
// (the Kafka server on loopback ports, on an event-loop thread of its own), produce steps sent
// by librdkafka producers, and every consumer a librdkafka group member on its own thread that
// does its service time as a real wait and commits after each batch. Faults act for real: a
// crashed broker's sockets close, a killed consumer vanishes without leaving its group. It
// reports the metrics the simulated side reports, on one monotonic clock.
#pragma once

#include <memory>

#include "models/kafka_side.h"
#include "models/system.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::workbench {

/// The real Kafka side, or the simulated (empty) one if the system has no Kafka cluster.
std::unique_ptr<models::kafka_side> make_net_kafka(sim::simulator& sim, const models::system_spec& spec,
                                                   const sim::random_streams& streams);

}  // namespace mqlab::workbench
