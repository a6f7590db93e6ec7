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
#include "models/jms_side.h"
#include "models/slot_pool.h"
#include "models/system.h"
#include "sim/histogram.h"
#include "sim/random.h"
#include "sim/simulator.h"

namespace mqlab::models {

class jms_model final : public jms_side {
 public:
  /// `sim` and `spec` must outlive the model.
  /// `host`: the machine every node and client shares (cost_model::host_cores), or none.
  jms_model(sim::simulator& sim, const jms_spec& spec, const cost_model& costs, const sim::random_streams& streams,
            cpu_pool* host = nullptr);

  bool enabled() const override { return spec_.enabled || tally_.sent_any(); }
  void start() override;
  void send(const send_step& step, sim::sim_time created, bool measured, done_fn answered) override;
  void start_measuring() override;
  std::int64_t backlog() const override;
  void collect(std::map<std::string, double>& values, sim::histogram& e2e) const override;

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
    sim::rng service_rng;
    sim::rng fail_rng;  // the spec's `fail` probability
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

  sim::simulator& sim_;
  const jms_spec& spec_;
  broker::jms::broker core_;
  std::optional<cluster_resources> resources_;  // none when ideal
  slot_pool<std::vector<broker::jms::delivery>> parked_;  // a priced call's deliveries
  slot_pool<broker::jms::delivery> in_transit_;           // on a consumer's link
  broker::jms::session_id producer_ = 0;
  std::vector<member> members_;
  std::map<broker::jms::consumer_id, std::size_t> by_consumer_;
  jms_tally tally_;
  sim::sim_time armed_ = sim::sim_time::max();
};

}  // namespace mqlab::models
