// Event ordering, FIFO ties, cancellation and the simulator loop.
#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <random>
#include <vector>

#include "sim/simulator.h"

namespace mqlab::sim {
namespace {

TEST(event_queue, fires_in_time_order_with_fifo_ties) {
  simulator sim;
  std::vector<int> order;
  sim.at(sim_time(20), [&] { order.push_back(3); });
  sim.at(sim_time(10), [&] { order.push_back(1); });
  sim.at(sim_time(10), [&] { order.push_back(2); });  // same instant, scheduled later: fires later
  sim.at(sim_time(30), [&] { order.push_back(4); });
  sim.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(sim.now(), sim_time(30));
}

TEST(event_queue, many_ties_keep_insertion_order) {
  simulator sim;
  std::vector<int> order;
  for (int i = 0; i < 1000; ++i) sim.at(sim_time(i % 7), [&order, i] { order.push_back(i); });
  sim.run();
  std::vector<int> expected(1000);
  for (int i = 0; i < 1000; ++i) expected[static_cast<std::size_t>(i)] = i;
  std::stable_sort(expected.begin(), expected.end(), [](int a, int b) { return a % 7 < b % 7; });
  EXPECT_EQ(order, expected);
}

TEST(event_queue, cancelled_events_do_not_fire_and_slots_are_reused) {
  simulator sim;
  int fired = 0;
  auto a = sim.after(10_ms, [&] { fired += 1; });
  auto b = sim.after(20_ms, [&] { fired += 10; });
  EXPECT_TRUE(sim.cancel(a));
  EXPECT_FALSE(sim.cancel(a));  // already cancelled
  auto c = sim.after(5_ms, [&] { fired += 100; });  // reuses a's slot; a's stale key must not fire c
  EXPECT_FALSE(sim.cancel(a));
  EXPECT_EQ(sim.pending(), 2u);
  sim.run();
  EXPECT_EQ(fired, 110);
  EXPECT_FALSE(sim.cancel(b));  // already fired
  EXPECT_FALSE(sim.cancel(c));
}

TEST(event_queue, matches_a_sorted_reference_under_random_pushes_and_cancels) {
  std::mt19937_64 gen(7);
  event_queue q;
  struct ref {
    std::int64_t t;
    std::uint64_t seq;
    int value;
  };
  std::vector<ref> live;
  std::vector<std::pair<event_id, std::uint64_t>> ids;
  std::vector<int> fired;
  std::uint64_t seq = 0;
  for (int i = 0; i < 5000; ++i) {
    const auto t = static_cast<std::int64_t>(gen() % 100);
    const int value = i;
    ids.emplace_back(q.push(sim_time(t), [&fired, value] { fired.push_back(value); }), seq);
    live.push_back({t, seq++, value});
    if (gen() % 3 == 0) {
      const auto k = gen() % ids.size();
      if (q.cancel(ids[k].first)) {
        std::erase_if(live, [&](const ref& r) { return r.seq == ids[k].second; });
      }
    }
  }
  EXPECT_EQ(q.size(), live.size());
  event_callback fn;
  while (!q.empty()) {
    q.pop(fn);
    fn();
  }
  std::stable_sort(live.begin(), live.end(), [](const ref& a, const ref& b) { return a.t < b.t; });
  std::vector<int> expected;
  for (const auto& r : live) expected.push_back(r.value);
  EXPECT_EQ(fired, expected);
}

TEST(simulator, run_until_stops_at_the_horizon_and_resumes) {
  simulator sim;
  std::vector<std::int64_t> times;
  std::function<void()> tick = [&] {
    times.push_back(sim.now().ns());
    sim.after(duration(10), tick);
  };
  sim.at(sim_time(0), tick);
  sim.run_until(sim_time(35));
  EXPECT_EQ(times, (std::vector<std::int64_t>{0, 10, 20, 30}));
  EXPECT_EQ(sim.now(), sim_time(35));
  sim.run_until(sim_time(50));
  EXPECT_EQ(times.back(), 50);
}

TEST(simulator, stop_ends_the_run_after_the_current_event) {
  simulator sim;
  int fired = 0;
  sim.at(sim_time(1), [&] { ++fired; sim.stop(); });
  sim.at(sim_time(2), [&] { ++fired; });
  sim.run();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(sim.pending(), 1u);
}

TEST(simulator, two_simulators_are_independent) {
  simulator a, b;
  int fa = 0, fb = 0;
  a.after(5_ms, [&] { ++fa; });
  b.after(1_ms, [&] { ++fb; });
  b.run();
  EXPECT_EQ(fa, 0);
  EXPECT_EQ(fb, 1);
  EXPECT_EQ(a.now(), sim_time());
}

TEST(inline_function, large_captures_fall_back_to_the_heap_and_still_run) {
  std::array<std::int64_t, 32> big{};
  big[31] = 9;
  inline_function<std::int64_t()> f = [big] { return big[31]; };
  inline_function<std::int64_t()> g = std::move(f);
  EXPECT_FALSE(static_cast<bool>(f));
  EXPECT_EQ(g(), 9);
}

}  // namespace
}  // namespace mqlab::sim
