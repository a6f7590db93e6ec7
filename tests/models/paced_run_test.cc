// Net mode's paced loop (run_system in real time): a loop that has fallen behind the wall clock
// catches up a slice of the scenario at a time and hands over what its sides received in
// between, so a client host that cannot keep up goes on consuming while it publishes, as a
// producer and consumers in processes of their own would.
#include <algorithm>
#include <chrono>
#include <memory>

#include <gtest/gtest.h>

#include "models/system_model.h"

namespace mqlab::models {
namespace {

/// An AMQP side whose publish takes `publish_takes` of wall-clock time; it counts the publishes
/// each pump() comes after.
struct pump_log {
  std::uint64_t published = 0, at_last_pump = 0, most_between_pumps = 0, pumps = 0;
};

class slow_publisher final : public amqp_side {
 public:
  slow_publisher(pump_log& log, std::chrono::microseconds publish_takes) : log_(log), takes_(publish_takes) {}

  void start(listener) override {}
  void publish(const std::string&, const std::string&, const std::shared_ptr<const broker::amqp::basic_properties>&,
               std::string, bool, answer_fn answered) override {
    const auto until = std::chrono::steady_clock::now() + takes_;
    while (std::chrono::steady_clock::now() < until) {
    }
    ++log_.published;
    answered(true);
  }
  void pump() override {
    log_.most_between_pumps = std::max(log_.most_between_pumps, log_.published - log_.at_last_pump);
    log_.at_last_pump = log_.published;
    ++log_.pumps;
  }
  void ack(int, delivery_ref, bool) override {}
  void get(int) override {}
  void reject(int, delivery_ref, bool) override {}
  void kill(int) override {}
  void start_consumer(int) override {}
  void crash(broker::node_id) override {}
  void restart(broker::node_id) override {}
  void partition(broker::node_id, broker::node_id) override {}
  void heal(broker::node_id, broker::node_id) override {}
  std::optional<std::uint64_t> queue_depth(const std::string&) const override { return std::nullopt; }
  broker::amqp::queue_stats totals() const override { return {}; }
  broker::amqp::cluster_traffic traffic() const override { return {}; }

 private:
  pump_log& log_;
  std::chrono::microseconds takes_;
};

TEST(paced_run, a_loop_behind_the_wall_clock_hands_over_every_slice_of_the_schedule) {
  // 100 000 publishes a second, each taking 30 us: the loop falls behind from the start and
  // ends ~0.1 s late. Every 100 us of the schedule (10 publishes) it looks at its sockets.
  system_spec spec;
  spec.duration = sim::duration::milliseconds(50);
  spec.arrivals = std::make_shared<sim::arrival_process>(sim::arrival_process::deterministic(100'000));
  spec.request = {pipeline_step{publish_step{.exchange = "", .routing_key = "work"}}};
  pump_log log;
  run_environment net;
  net.real_time = true;
  net.amqp = [&log](sim::simulator&, const system_spec&) {
    return std::make_unique<slow_publisher>(log, std::chrono::microseconds(30));
  };
  run_system(spec, 1, {}, nullptr, {}, net);
  EXPECT_GE(log.published, 4'900u) << "every scheduled publish went out, late";
  EXPECT_LE(log.most_between_pumps, 11u) << "at most a slice's publishes between two looks at the sockets";
  EXPECT_GE(log.pumps, log.published / 11);
}

}  // namespace
}  // namespace mqlab::models
