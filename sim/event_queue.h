// The simulator's pending-event set, ordered by (time, insertion sequence) so events at the
// same instant fire in the order they were scheduled (FIFO tie-break).
//
// Structure (a ladder queue, after Tang, Goh & Thng 2005): events of the near future
// sit in a small 4-ary heap; the rest of a time window is split into buckets of equal width
// that are plain unsorted arrays; events beyond the window wait unsorted in an overflow array.
// When the heap runs dry the next non-empty bucket is poured into it; when the window is used
// up it is rebuilt around the overflow. A push is an append in the common case and every event
// is sorted only within its small bucket, so the cost per event stays flat as the population
// grows from thousands to millions. Heap keys are 16 bytes laid out so the four children of a
// node share one 64-byte cache line. Buckets are as wide as the earliest events are dense; a
// bucket found crowded when its turn comes (the population near the front grew) is split by a
// finer window instead of being poured, so the heap stays small. Only events at one instant
// all land in one bucket, and then it is a heap.
//
// Callables live in a slab of reusable slots (no allocation once the slab has grown to the
// working population). Cancellation is O(1): the slot is freed at once and its stale key is
// skipped when it reaches the front.
//
// REQUIRES of callers: times are >= 0 and never earlier than the last event taken (the
// simulator clamps to now()). Limits: 2^24 (16.7 M) events pending at once, 2^40 scheduled.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "sim/inline_function.h"
#include "sim/time.h"

namespace mqlab::sim {

/// What an event runs when it fires.
using event_callback = inline_function<void(), 48>;

/// Names a scheduled event so it can be cancelled; a default-constructed id names nothing.
struct event_id {
  std::uint64_t tag = 0;  // sequence << 24 | slot; 0 = none (sequences start at 1)
  bool valid() const { return tag != 0; }
};

class event_queue {
 public:
  event_queue();
  ~event_queue();
  event_queue(const event_queue&) = delete;
  event_queue& operator=(const event_queue&) = delete;

  /// Schedules `fn` at time `t` (REQUIRES: t >= 0), constructing it in its slot.
  /// O(log n), no allocation in steady state.
  template <typename F>
  event_id push(sim_time t, F&& fn) {
    const std::uint32_t s = acquire_slot();
    if constexpr (std::is_same_v<std::remove_cvref_t<F>, event_callback>) {
      slot_at(s).fn = std::move(fn);
    } else {
      slot_at(s).fn.emplace(std::forward<F>(fn));
    }
    return enqueue(t, s);
  }

  /// Cancels a pending event; returns false if it already fired or was cancelled. O(1).
  bool cancel(event_id id);

  event_queue(event_queue&&) = delete;

  /// True when no live (uncancelled) event is pending.
  bool empty() const { return live_ == 0; }
  std::size_t size() const { return live_; }

  /// Time of the earliest live event. REQUIRES: !empty().
  sim_time next_time();

  /// Removes the earliest live event and runs it where it is stored: `on_fire(time)` first,
  /// then the callable (which may push and cancel other events). REQUIRES: !empty().
  template <typename OnFire>
  void fire_next(OnFire&& on_fire) {
    fire_next_until(sim_time::max(), std::forward<OnFire>(on_fire));
  }

  /// Like fire_next() if the earliest live event is due at or before `end`; returns whether
  /// one fired (false also when the queue is empty).
  template <typename OnFire>
  bool fire_next_until(sim_time end, OnFire&& on_fire) {
    if (empty()) return false;
    settle();
    if (key_time(at(0)) > end.ns()) return false;
    const auto [time, s] = take_top();
    slot& sl = slot_at(s);
    on_fire(time);
    sl.fn();
    sl.fn.reset();
    free_slots_.push_back(s);
    return true;
  }

 private:
  // One signed 128-bit number: time in the high half, tag in the low half. Times are never
  // negative, so every key is in [0, 2^127) and a - b cannot overflow: its sign bit alone says
  // whether a is earlier. That comparison has no branch, which matters because a heap's cost
  // is otherwise dominated by branches mispredicted on random key order.
  using key = __int128;
  static key make_key(std::int64_t time, std::uint64_t tag) { return (static_cast<key>(time) << 64) | tag; }
  static std::int64_t key_time(key k) { return static_cast<std::int64_t>(k >> 64); }
  static std::uint64_t key_tag(key k) { return static_cast<std::uint64_t>(k); }
  static std::size_t earlier(key a, key b) { return static_cast<std::size_t>(static_cast<unsigned __int128>(a - b) >> 127); }
  struct slot {
    event_callback fn;
    std::uint64_t tag = 0;  // tag of the event that owns this slot, 0 when free or firing
  };
  // Slots live in fixed chunks so a slot keeps its address while its event runs, even when
  // the event schedules more and the slab grows.
  static constexpr int chunk_bits = 10;
  static constexpr std::uint32_t chunk_mask = (1u << chunk_bits) - 1;
  slot& slot_at(std::uint64_t s) { return chunks_[s >> chunk_bits][s & chunk_mask]; }
  const slot& slot_at(std::uint64_t s) const { return chunks_[s >> chunk_bits][s & chunk_mask]; }
  std::uint32_t acquire_slot();
  event_id enqueue(sim_time t, std::uint32_t s);
  struct top_event {
    sim_time time;
    std::uint32_t slot;
  };
  /// Removes the heap's top. REQUIRES: settle() was called since the last change.
  top_event take_top();
  static constexpr int slot_bits = 24;
  static constexpr std::uint32_t large_slab = 4096;  // slots beyond which they miss the caches
  static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  // Logical node i lives at keys_[i + pad]: then children 4i+1..4i+4 start on a multiple of 4.
  static constexpr std::size_t pad = 3;

  key& at(std::size_t i) { return keys_[i + pad]; }
  bool stale(key k) const { return slot_at(key_tag(k) & slot_mask).tag != key_tag(k); }
  void file(key k);
  /// Makes the heap's top the earliest live key. REQUIRES: !empty().
  void settle();
  void open_next_bucket();
  void file_in_bucket(key k);
  /// First bucket at or after `from` that may hold keys, or bucket_count_.
  std::size_t next_occupied(std::size_t from) const;
  void rebuild_window(std::size_t sample);
  /// Moves the keys of buckets `first`.. back to the overflow and rebuilds the window.
  void rewindow_from(std::size_t first);
  void to_overflow(key k);
  /// The most one bucket may hold before it is split by a finer window.
  static constexpr std::size_t density_sample = 64;
  void sift_up(std::size_t i, key k);
  void sift_down(std::size_t i, key k);
  void remove_top();
  void grow();

  struct aligned_delete {
    void operator()(key* p) const;
  };
  // The near-future heap: keys with time < near_end_.
  std::unique_ptr<key[], aligned_delete> keys_;  // 64-byte aligned, so four children share a line
  std::size_t count_ = 0;                        // keys in the heap, stale ones included
  std::size_t capacity_ = 0;
  std::int64_t near_end_ = INT64_MIN;
  // The window [window_start_, window_end_) in buckets of 2^width_shift_ ns; buckets before
  // next_bucket_ have been poured into the heap.
  std::vector<std::vector<key>> buckets_;
  std::vector<std::uint64_t> occupied_;  // bit per bucket: may hold keys (skips empty ones fast)
  std::size_t bucket_count_ = 0;
  std::size_t next_bucket_ = 0;
  std::int64_t window_start_ = INT64_MIN;
  std::int64_t window_end_ = INT64_MIN;
  int width_shift_ = 0;
  bool spans_all_ = false;  // the buckets divide the whole span (too many events for finer ones)
  // Keys with time >= window_end_, unsorted, with their time range.
  std::vector<key> overflow_;
  std::int64_t overflow_min_ = INT64_MAX;
  std::int64_t overflow_max_ = INT64_MIN;
  std::vector<std::unique_ptr<slot[]>> chunks_;
  std::uint32_t slot_count_ = 0;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t next_sequence_ = 1;
  std::size_t live_ = 0;
};

}  // namespace mqlab::sim
