// 4-ary heap of event keys over a slab of callables; see event_queue.h for the invariants.
#include "sim/event_queue.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mqlab::sim {
namespace {
constexpr std::align_val_t cache_line{64};
}

void event_queue::aligned_delete::operator()(key* p) const { ::operator delete[](p, cache_line); }

event_queue::event_queue() { grow(); }
event_queue::~event_queue() = default;

void event_queue::grow() {
  const std::size_t capacity = capacity_ ? capacity_ * 2 : 64;
  auto* fresh = static_cast<key*>(::operator new[]((capacity + pad) * sizeof(key), cache_line));
  if (count_) std::memcpy(fresh + pad, keys_.get() + pad, count_ * sizeof(key));
  keys_.reset(fresh);
  capacity_ = capacity;
}

event_id event_queue::push(sim_time t, event_callback fn) {
  std::uint32_t s;
  if (free_slots_.empty()) {
    s = static_cast<std::uint32_t>(slots_.size());
    if (s > slot_mask) {
      std::fprintf(stderr, "mqlab: more than %llu events pending in one simulation\n",
                   static_cast<unsigned long long>(slot_mask));
      std::abort();
    }
    slots_.emplace_back();
  } else {
    s = free_slots_.back();
    free_slots_.pop_back();
  }
  const std::uint64_t tag = (next_sequence_++ << slot_bits) | s;
  slots_[s].fn = std::move(fn);
  slots_[s].tag = tag;
  if (count_ == capacity_) grow();
  sift_up(count_++, make_key(t.ns(), tag));
  ++live_;
  return event_id{tag};
}

bool event_queue::cancel(event_id id) {
  const std::uint64_t s = id.tag & slot_mask;
  if (!id.valid() || s >= slots_.size() || slots_[s].tag != id.tag) return false;
  // The key stays in the heap; it no longer matches the slot's tag and is skipped at the top.
  slots_[s].fn.reset();
  slots_[s].tag = 0;
  free_slots_.push_back(static_cast<std::uint32_t>(s));
  --live_;
  return true;
}

sim_time event_queue::next_time() {
  assert(!empty());
  drop_stale_top();
  return sim_time(key_time(at(0)));
}

sim_time event_queue::pop(event_callback& fn) {
  assert(!empty());
  drop_stale_top();
  const key top = at(0);
  const auto s = static_cast<std::uint32_t>(key_tag(top) & slot_mask);
  fn = std::move(slots_[s].fn);
  slots_[s].tag = 0;
  free_slots_.push_back(s);
  --live_;
  remove_top();
  return sim_time(key_time(top));
}

void event_queue::drop_stale_top() {
  while (stale(at(0))) remove_top();
}

void event_queue::remove_top() {
  const key last = at(--count_);
  if (count_) sift_down(0, last);
}

void event_queue::sift_up(std::size_t i, key k) {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (!(k < at(parent))) break;
    at(i) = at(parent);
    i = parent;
  }
  at(i) = k;
}

void event_queue::sift_down(std::size_t i, key k) {
  const std::size_t n = count_;
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    if (first + 4 <= n) {
      // A tournament of conditional moves: no branch depends on the (random) key order.
      const key* c = &at(first);
      const std::size_t left = c[1] < c[0] ? 1 : 0;
      const std::size_t right = c[3] < c[2] ? 3 : 2;
      best = first + (c[right] < c[left] ? right : left);
    } else {
      for (std::size_t c = first + 1; c < n; ++c) best = at(c) < at(best) ? c : best;
    }
    if (!(at(best) < k)) break;
    at(i) = at(best);
    i = best;
  }
  at(i) = k;
}

}  // namespace mqlab::sim
