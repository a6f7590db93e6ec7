// The simulator's pending-event set: a 4-ary min-heap ordered by (time, insertion sequence),
// so events at the same instant fire in the order they were scheduled (FIFO tie-break).
//
// Callables live in a slab of reusable slots; the heap holds only 16-byte keys laid out so the
// four children of a node share one 64-byte cache line, and a push never allocates once the
// slab and heap have grown to the working population. Cancellation is O(1): the slot is freed
// at once and its stale key is skipped when it reaches the top (it stays in the heap until
// then). push and pop are O(log n).
//
// Limits: 2^24 (16.7 M) events pending at once and 2^40 (1.1e12) events scheduled per queue.
#pragma once

#include <cstdint>
#include <memory>
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

  /// Schedules `fn` at time `t`. O(log n), no allocation in steady state.
  event_id push(sim_time t, event_callback fn);

  /// Cancels a pending event; returns false if it already fired or was cancelled. O(1).
  bool cancel(event_id id);

  /// True when no live (uncancelled) event is pending.
  bool empty() const { return live_ == 0; }
  std::size_t size() const { return live_; }

  /// Time of the earliest live event. REQUIRES: !empty().
  sim_time next_time();

  /// Removes the earliest live event, returning its time and moving its callable into `fn`.
  /// REQUIRES: !empty().
  sim_time pop(event_callback& fn);

 private:
  // One unsigned 128-bit number: the time (sign bit flipped, so unsigned order is time order)
  // in the high half and the tag in the low half. Comparing keys is then a single branch-free
  // integer comparison, which matters: the heap's cost is mostly mispredicted branches.
  using key = unsigned __int128;
  static key make_key(std::int64_t time, std::uint64_t tag) {
    return (static_cast<key>(static_cast<std::uint64_t>(time) ^ (std::uint64_t{1} << 63)) << 64) | tag;
  }
  static std::int64_t key_time(key k) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(k >> 64) ^ (std::uint64_t{1} << 63));
  }
  static std::uint64_t key_tag(key k) { return static_cast<std::uint64_t>(k); }
  struct slot {
    event_callback fn;
    std::uint64_t tag = 0;  // tag of the event that owns this slot, 0 when free
  };
  static constexpr int slot_bits = 24;
  static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  // Logical node i lives at keys_[i + pad]: then children 4i+1..4i+4 start on a multiple of 4.
  static constexpr std::size_t pad = 3;

  key& at(std::size_t i) { return keys_[i + pad]; }
  bool stale(key k) const { return slots_[key_tag(k) & slot_mask].tag != key_tag(k); }
  void drop_stale_top();
  void sift_up(std::size_t i, key k);
  void sift_down(std::size_t i, key k);
  void remove_top();
  void grow();

  struct aligned_delete {
    void operator()(key* p) const;
  };
  std::unique_ptr<key[], aligned_delete> keys_;  // 64-byte aligned, so four children share a line
  std::size_t count_ = 0;                        // keys in the heap, stale ones included
  std::size_t capacity_ = 0;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t next_sequence_ = 1;
  std::size_t live_ = 0;
};

}  // namespace mqlab::sim
