// Elastic consumers as Spring AMQP's SimpleMessageListenerContainer documents them: a consumer
// busy for more than ten receives in a row starts another (one per 10 s at most, up to the
// maximum); one whose receive timed out more than ten times in a row stops (one per 60 s at
// most, down to the minimum).
#include "models/listener_container.h"

#include <gtest/gtest.h>

#include <vector>

namespace mqlab::models {
namespace {

struct container_test : ::testing::Test {
  sim::simulator sim;
  consumer_group_spec group{.name = "workers", .queue = "orders", .count = 4, .elastic = elastic_spec{.min = 1}};
  std::vector<std::pair<double, int>> started, stopped;  // (time in s, consumer)
  listener_container container{sim, group, {0, 1, 2, 3},
                               [this](int c) { started.emplace_back(sim.now().seconds(), c); },
                               [this](int c) { stopped.emplace_back(sim.now().seconds(), c); }};

  /// Consumer 0 receives a message every `gap` seconds from `from` until `until`.
  void busy(double from, double until, double gap) {
    for (double t = from; t < until; t += gap) {
      sim.at(sim::sim_time(sim::duration::from_seconds(t).ns()), [this] { container.received(0); });
    }
  }
};

TEST_F(container_test, starts_with_the_minimum_and_adds_one_consumer_per_start_interval_up_to_the_maximum) {
  EXPECT_EQ(container.running_count(), 1);
  busy(0.01, 40, 0.01);
  sim.run_until(sim::sim_time(sim::duration::seconds(40).ns()));
  // Every 12th receive in a row asks (the count is compared before it grows): at 0.12 s, 0.24 s,
  // ... The first ask starts a consumer at once; later ones only once more than 10 s have
  // passed since the last start: the asks at 10.20 s and 20.28 s.
  ASSERT_EQ(started.size(), 3u);
  EXPECT_NEAR(started[0].first, 0.12, 1e-6);
  EXPECT_EQ(started[0].second, 1);
  EXPECT_NEAR(started[1].first, 10.20, 1e-6);
  EXPECT_NEAR(started[2].first, 20.28, 1e-6);
  EXPECT_EQ(container.running_count(), 4);
  EXPECT_EQ(container.max_running(), 4);
  EXPECT_TRUE(stopped.empty()) << "the started consumers never waited";
}

TEST_F(container_test, idle_consumers_stop_one_per_stop_interval_down_to_the_minimum) {
  busy(0.01, 0.13, 0.01);  // twelve receives: consumer 1 starts at 0.12 s
  sim.at(sim::sim_time(sim::duration::from_seconds(0.13).ns()), [this] {
    container.waiting(0);
    container.waiting(1);
  });
  sim.run_until(sim::sim_time(sim::duration::seconds(100).ns()));
  ASSERT_EQ(started.size(), 1u);
  // Both time out every second; the 12th timeout in a row (12 s) stops one of them, and the
  // other may not stop: the group is at its minimum.
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_NEAR(stopped[0].first, 12.13, 1e-6);
  EXPECT_EQ(container.running_count(), 1);
}

TEST_F(container_test, a_killed_consumer_is_never_started_again) {
  container.killed(0);
  EXPECT_EQ(container.running_count(), 0);
  container.received(0);
  sim.run();
  EXPECT_TRUE(started.empty());
}

}  // namespace
}  // namespace mqlab::models
