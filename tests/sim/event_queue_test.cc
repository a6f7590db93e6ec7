// Event ordering, FIFO ties, cancellation and the simulator loop.
#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <random>
#include <set>
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
  std::int64_t previous = -1;
  while (!q.empty()) {
    q.fire_next([&](sim_time t) {
      EXPECT_GE(t.ns(), previous);
      previous = t.ns();
    });
  }
  std::stable_sort(live.begin(), live.end(), [](const ref& a, const ref& b) { return a.t < b.t; });
  std::vector<int> expected;
  for (const auto& r : live) expected.push_back(r.value);
  EXPECT_EQ(fired, expected);
}

// A simulator-like workload against a reference ordered set: pushes at now + a delay drawn from
// a mixture (ties at now, near, far outliers that force window rebuilds), random cancellations,
// and pops interleaved with pushes. Every pop must be the reference's (time, sequence) minimum.
TEST(event_queue, interleaved_workload_matches_reference_order) {
  std::mt19937_64 gen(11);
  event_queue q;
  std::set<std::pair<std::int64_t, std::uint64_t>> reference;  // (time, push order)
  std::vector<std::pair<event_id, std::pair<std::int64_t, std::uint64_t>>> handles;
  std::pair<std::int64_t, std::uint64_t> fired{};
  std::int64_t now = 0;
  std::uint64_t order = 0;
  auto delay = [&]() -> std::int64_t {
    switch (gen() % 6) {
      case 0: return 0;                                       // same instant: FIFO matters
      case 1: return static_cast<std::int64_t>(gen() % 10);   // very near
      case 2: return static_cast<std::int64_t>(gen() % 1'000'000'000'000);  // far outlier
      default: return static_cast<std::int64_t>(gen() % 100'000);
    }
  };
  for (int step = 0; step < 200'000; ++step) {
    const auto op = gen() % 10;
    if (op < 5 || reference.empty()) {
      const auto entry = std::make_pair(now + delay(), order++);
      handles.emplace_back(q.push(sim_time(entry.first), [&fired, entry] { fired = entry; }), entry);
      reference.insert(entry);
    } else if (op < 6) {
      const auto& h = handles[gen() % handles.size()];
      EXPECT_EQ(q.cancel(h.first), reference.erase(h.second) == 1);
    } else {
      q.fire_next([&](sim_time t) { now = t.ns(); });
      ASSERT_EQ(fired, *reference.begin()) << "step " << step;
      reference.erase(reference.begin());
    }
    ASSERT_EQ(q.size(), reference.size());
  }
}

// A run as the labs start one: a few events far ahead (samplers, the end of the run), then a
// population near the front that grows to thousands (requests in service). The window built
// around the first few is far too coarse for the crowd that follows; the queue splits crowded
// buckets by finer windows, and the order must stay the reference's.
TEST(event_queue, a_run_that_starts_sparse_and_crowds_the_front_keeps_order) {
  std::mt19937_64 gen(5);
  event_queue q;
  std::set<std::pair<std::int64_t, std::uint64_t>> reference;
  std::pair<std::int64_t, std::uint64_t> fired{};
  std::uint64_t order = 0;
  auto push = [&](std::int64_t t) {
    const auto entry = std::make_pair(t, order++);
    q.push(sim_time(t), [&fired, entry] { fired = entry; });
    reference.insert(entry);
  };
  constexpr std::int64_t second = 1'000'000'000;
  for (std::int64_t s = 0; s <= 60; ++s) push(s * second);
  std::int64_t now = 0;
  for (int step = 0; step < 300'000; ++step) {
    // Two pushes per pop while the crowd grows to ~5 000, then one for one.
    const int pushes = reference.size() < 5'000 ? 2 : 1;
    for (int i = 0; i < pushes; ++i) push(now + static_cast<std::int64_t>(gen() % 50'000'000));  // within 50 ms
    q.fire_next([&](sim_time t) { now = t.ns(); });
    ASSERT_EQ(fired, *reference.begin()) << "step " << step;
    reference.erase(reference.begin());
  }
  EXPECT_EQ(q.size(), reference.size());
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

TEST(simulator, an_event_may_cancel_itself_without_effect_and_schedule_many_more) {
  simulator sim;
  event_id self;
  int fired = 0;
  self = sim.after(1_ms, [&] {
    EXPECT_FALSE(sim.cancel(self));  // it is already firing
    // Grow the slab well past one chunk while this event's callable is running.
    for (int i = 0; i < 5000; ++i) sim.after(duration(i + 1), [&fired] { ++fired; });
    ++fired;
  });
  sim.run();
  EXPECT_EQ(fired, 5001);
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
