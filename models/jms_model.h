// The JMS side of a simulated system: an ActiveMQ-style broker from the broker core, messages
// from send steps, and consumers that work through their deliveries one at a time, go offline
// and come back, with expiry and redelivery timers run in virtual time. Unless the profile is
// ideal, the broker is one node whose work is priced: sends cross the producer's link, each
// queue's or subscription's dispatch is serial, persistent messages go to the disk before a
// (synchronous) send is answered, deliveries and acks cross the consumers' links.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/jms/broker.h"
#include "models/cluster_resources.h"
#include "models/slot_pool.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

class jms_model {
 public:
  /// `sim` and `spec` must outlive the model.
  jms_model(sim::simulator& sim, const jms_spec& spec, const cost_model& costs, const sim::random_streams& streams);

  /// A jms section was declared, or messages were sent.
  bool enabled() const { return spec_.enabled || sequence_ > 0; }
  /// Connects the consumers and schedules their offline windows.
  void start();
  /// `answered` runs when the producer may go on: at once for a non-persistent (asynchronous)
  /// send, after the broker's receipt for a persistent one (ActiveMQ sends those synchronously).
  void send(const send_step& step, sim::sim_time created, bool measured, done_fn answered);
  void start_measuring();
  /// Messages waiting in queues and durable subscriptions, summed.
  std::int64_t backlog() const;
  /// Adds the JMS metrics to `values` and the end-to-end latencies to `e2e`.
  void collect(std::map<std::string, double>& values, sim::histogram& e2e) const;

 private:
  struct member {
    const jms_consumer_spec* spec = nullptr;
    int index = 0;
    broker::jms::connection_id conn = 0;
    broker::jms::session_id session = 0;
    broker::jms::consumer_id consumer = 0;
    bool online = false, busy = false;
    bool pulls = false;    // prefetch 0: receives only what it asks for, one message at a time
    bool pulling = false;  // its receive() is waiting at the broker
    std::deque<broker::jms::delivery> inbox;  // delivered, not yet worked on
    std::uint64_t delivered = 0, duplicates = 0;
    sim::rng service_rng;
  };
  broker::instant now() const { return {sim_.now().ns()}; }
  void connect(std::size_t m);
  /// An idle pull consumer's receive(): one request (a trip over its link, priced) that the
  /// broker answers with the next message as soon as there is one.
  void receive(std::size_t m);
  void disconnect(std::size_t m);
  /// Hands the core's deliveries to their members and re-arms the core's timer; priced, the
  /// deliveries leave once the calls' work is done, and `settled` runs once it is on disk.
  void drain(done_fn settled = {});
  void hand_over(broker::jms::delivery d);
  void work(std::size_t m);
  void arm();
  /// Expired, dead-lettered and dropped counts over the consumers' destinations.
  broker::jms::destination_stats totals() const;

  sim::simulator& sim_;
  const jms_spec& spec_;
  broker::jms::broker core_;
  std::optional<cluster_resources> resources_;  // none when ideal
  slot_pool<std::vector<broker::jms::delivery>> parked_;  // a priced call's deliveries
  slot_pool<broker::jms::delivery> in_transit_;           // on a consumer's link
  broker::jms::session_id producer_ = 0;
  std::vector<member> members_;
  std::map<broker::jms::consumer_id, std::size_t> by_consumer_;
  std::map<std::string, std::vector<bool>> seen_;  // per consumer spec: sequences already delivered
  sim::histogram e2e_;
  std::uint64_t sequence_ = 0, sent_ = 0, delivered_ = 0;
  std::map<std::string, std::uint64_t> sent_to_;  // measured messages per destination
  sim::sim_time armed_ = sim::sim_time::max();
  broker::jms::destination_stats warmup_totals_;
};

}  // namespace mqlab::models
