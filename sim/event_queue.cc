// Near-future heap, bucketed window and overflow over a slab of callables; see event_queue.h.
#include "sim/event_queue.h"

#include <algorithm>
#include <bit>
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

std::uint32_t event_queue::acquire_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  if (slot_count_ > slot_mask) {
    std::fprintf(stderr, "mqlab: more than %llu events pending in one simulation\n",
                 static_cast<unsigned long long>(slot_mask));
    std::abort();
  }
  if ((slot_count_ & chunk_mask) == 0) chunks_.push_back(std::make_unique<slot[]>(chunk_mask + 1));
  return slot_count_++;
}

event_id event_queue::enqueue(sim_time t, std::uint32_t s) {
  assert(t.ns() >= 0);
  const std::uint64_t tag = (next_sequence_++ << slot_bits) | s;
  slot_at(s).tag = tag;
  file(make_key(t.ns(), tag));
  ++live_;
  return event_id{tag};
}

void event_queue::file(key k) {
  const std::int64_t t = key_time(k);
  if (t < near_end_) {
    if (count_ == capacity_) grow();
    sift_up(count_++, k);
  } else if (t < window_end_) {
    // t >= near_end_, the start of bucket next_bucket_, so this never files into a poured bucket.
    file_in_bucket(k);
  } else {
    overflow_.push_back(k);
    overflow_min_ = std::min(overflow_min_, t);
    overflow_max_ = std::max(overflow_max_, t);
  }
}

void event_queue::file_in_bucket(key k) {
  const auto b = static_cast<std::size_t>((key_time(k) - window_start_) >> width_shift_);
  buckets_[b].push_back(k);
  occupied_[b >> 6] |= std::uint64_t{1} << (b & 63);
}

std::size_t event_queue::next_occupied(std::size_t from) const {
  std::size_t word = from >> 6;
  if (word >= occupied_.size()) return bucket_count_;
  std::uint64_t bits = occupied_[word] & (~std::uint64_t{0} << (from & 63));
  while (bits == 0) {
    if (++word == occupied_.size()) return bucket_count_;
    bits = occupied_[word];
  }
  return std::min(bucket_count_, (word << 6) + static_cast<std::size_t>(std::countr_zero(bits)));
}

void event_queue::settle() {
  for (;;) {
    while (count_ && stale(at(0))) remove_top();
    if (count_) return;
    open_next_bucket();
  }
}

void event_queue::open_next_bucket() {
  next_bucket_ = next_occupied(next_bucket_);
  if (next_bucket_ == bucket_count_) {
    rebuild_window(density_sample);
    return;
  }
  auto& bucket = buckets_[next_bucket_];
  if (bucket.size() > density_sample && width_shift_ > 0 && !spans_all_) {
    // Events crowd the front more densely than when the window was built (a run starting
    // from a few far events, then filling up): pouring this bucket would make the heap the
    // whole structure. Build a finer window around the front instead. The new width is at
    // most a 64th of this one (or, past the cap, the window spans all and is not split
    // again), so this ends.
    rewindow_from(next_bucket_);
    return;
  }
  occupied_[next_bucket_ >> 6] &= ~(std::uint64_t{1} << (next_bucket_ & 63));
  ++next_bucket_;
  near_end_ = window_start_ + (static_cast<std::int64_t>(next_bucket_) << width_shift_);
  if (capacity_ < bucket.size()) {
    while (capacity_ < bucket.size()) grow();
  }
  for (key k : bucket) sift_up(count_++, k);
  bucket.clear();
}

void event_queue::rewindow_from(std::size_t first) {
  const std::size_t crowd = buckets_[first].size();
  for (std::size_t b = next_occupied(first); b < bucket_count_; b = next_occupied(b + 1)) {
    for (key k : buckets_[b]) to_overflow(k);
    buckets_[b].clear();
  }
  rebuild_window(crowd);
}

void event_queue::to_overflow(key k) {
  overflow_.push_back(k);
  overflow_min_ = std::min(overflow_min_, key_time(k));
  overflow_max_ = std::max(overflow_max_, key_time(k));
}

void event_queue::rebuild_window(std::size_t sample) {
  // About one event per bucket spreads the work evenly. The width comes from the density of
  // the earliest `sample` events (64 when the window is used up; a crowded bucket's worth
  // when one is split), not from the whole span, so that a few far ones (a sampler due at the
  // end of the run) do not make every bucket wide; the window then ends after about twice as
  // many buckets as events, and what lies beyond stays in the overflow.
  // The cap keeps the bucket headers (16 Ki x 24 bytes) in L2: past it, fuller buckets cost
  // less than cache misses on headers (measured with BM_HoldModel: 10.4 M events/s at 100 000
  // vs 8.0 M with 64 Ki buckets).
  constexpr std::size_t max_buckets = std::size_t{1} << 14;
  assert(!overflow_.empty());
  const std::size_t n = overflow_.size();
  const std::size_t k = std::clamp<std::size_t>(sample, 1, n) - 1;
  const auto by_time = [](key a, key b) { return key_time(a) < key_time(b); };
  std::nth_element(overflow_.begin(), overflow_.begin() + static_cast<std::ptrdiff_t>(k), overflow_.end(), by_time);
  const auto near_span = static_cast<std::uint64_t>(key_time(overflow_[k]) - overflow_min_) + 1;
  width_shift_ = std::bit_width((near_span - 1) / (k + 1));
  const auto span = static_cast<std::uint64_t>(overflow_max_ - overflow_min_) + 1;
  const std::size_t target = std::clamp<std::size_t>(2 * std::bit_ceil(n), 64, max_buckets);
  // With more events than the cap allows buckets, a window that narrow would hold only a part
  // of them and be rebuilt over and over (BM_HoldModel/100000: 6.4 M events/s against 14.9 M):
  // then the buckets divide the whole span, a few events each.
  spans_all_ = target == max_buckets && ((span - 1) >> width_shift_) >= max_buckets;
  if (spans_all_) width_shift_ = std::max(width_shift_, static_cast<int>(std::bit_width((span - 1) / max_buckets)));
  bucket_count_ = static_cast<std::size_t>(std::min<std::uint64_t>(((span - 1) >> width_shift_) + 1, target));
  if (buckets_.size() < bucket_count_) buckets_.resize(bucket_count_);
  occupied_.assign((bucket_count_ + 63) / 64, 0);
  window_start_ = overflow_min_;
  near_end_ = window_start_;
  window_end_ = window_start_ + (static_cast<std::int64_t>(bucket_count_) << width_shift_);
  next_bucket_ = 0;
  // What lies beyond the window stays, compacted to the front of the overflow.
  std::size_t kept = 0;
  overflow_min_ = INT64_MAX;
  overflow_max_ = INT64_MIN;
  for (key k : overflow_) {
    if (key_time(k) < window_end_) {
      file_in_bucket(k);
    } else {
      overflow_[kept++] = k;
      overflow_min_ = std::min(overflow_min_, key_time(k));
      overflow_max_ = std::max(overflow_max_, key_time(k));
    }
  }
  overflow_.resize(kept);
}

bool event_queue::cancel(event_id id) {
  const std::uint64_t s = id.tag & slot_mask;
  if (!id.valid() || s >= slot_count_ || slot_at(s).tag != id.tag) return false;
  // The key stays in the heap; it no longer matches the slot's tag and is skipped at the top.
  slot_at(s).fn.reset();
  slot_at(s).tag = 0;
  free_slots_.push_back(static_cast<std::uint32_t>(s));
  --live_;
  return true;
}

sim_time event_queue::next_time() {
  assert(!empty());
  settle();
  return sim_time(key_time(at(0)));
}

event_queue::top_event event_queue::take_top() {
  assert(count_ != 0 && !stale(at(0)));
  const key top = at(0);
  const auto s = static_cast<std::uint32_t>(key_tag(top) & slot_mask);
  slot_at(s).tag = 0;  // fired: cancel() now fails; the slot is released after it runs
  --live_;
  remove_top();
  // The next event's callable was stored long ago and is likely out of cache: start loading
  // it now, while this event runs. The one after is the earliest of the new top's four
  // children: once the slots outgrow the caches (BM_HoldModel/100000: 9.7 M -> 14.2 M
  // events/s), loading all four gives it two events' time to arrive; with few slots the extra
  // loads only cost (/1000: 30 M -> 27 M), so they wait for a large slab.
  if (count_) __builtin_prefetch(&slot_at(key_tag(at(0)) & slot_mask));
  if (slot_count_ > large_slab) {
    for (std::size_t child = 1; child <= 4 && child < count_; ++child) __builtin_prefetch(&slot_at(key_tag(at(child)) & slot_mask));
  }
  return {sim_time(key_time(top)), s};
}

void event_queue::remove_top() {
  const key last = at(--count_);
  if (count_) sift_down(0, last);
}

void event_queue::sift_up(std::size_t i, key k) {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (!earlier(k, at(parent))) break;
    at(i) = at(parent);
    i = parent;
  }
  at(i) = k;
}

void event_queue::sift_down(std::size_t i, key k) {
  key* const heap = keys_.get() + pad;
  const std::size_t n = count_;
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    if (first + 4 <= n) {
      // A tournament whose winners are picked by arithmetic on the comparison results, so no
      // branch depends on the (random) key order.
      const key* c = heap + first;
      const std::size_t left = earlier(c[1], c[0]);
      const std::size_t right = 2 + earlier(c[3], c[2]);
      const std::size_t winner = left + (right - left) * earlier(c[right], c[left]);
      best = first + winner;
    } else {
      for (std::size_t c = first + 1; c < n; ++c) best += (c - best) * earlier(heap[c], heap[best]);
    }
    if (!earlier(heap[best], k)) break;
    heap[i] = heap[best];
    i = best;
  }
  heap[i] = k;
}

}  // namespace mqlab::sim
