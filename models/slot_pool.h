// Objects that wait in closures by index: a vector whose freed slots are reused, so a steady
// stream of in-flight things (priced calls, batches, deliveries on a link) allocates nothing
// once the pool has grown to the largest number in flight. Indices stay valid while the
// vector grows; references do not, so callers index again after anything that may acquire.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace mqlab::models {

template <typename T>
class slot_pool {
 public:
  /// A free slot: a new object, or a reused one as it was released (with its capacity, for
  /// the caller to reset). O(1) amortised.
  std::uint32_t acquire() {
    if (free_.empty()) {
      items_.emplace_back();
      return static_cast<std::uint32_t>(items_.size() - 1);
    }
    const std::uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  /// A slot holding `value`.
  std::uint32_t acquire(T value) {
    const std::uint32_t i = acquire();
    items_[i] = std::move(value);
    return i;
  }
  /// Frees slot `i`; its object stays as it is (keeping its capacity) until reused.
  void release(std::uint32_t i) { free_.push_back(i); }
  /// Moves the object out and frees its slot.
  T take(std::uint32_t i) {
    T v = std::move(items_[i]);
    release(i);
    return v;
  }
  T& operator[](std::uint32_t i) { return items_[i]; }
  const T& operator[](std::uint32_t i) const { return items_[i]; }

 private:
  std::vector<T> items_;
  std::vector<std::uint32_t> free_;
};

}  // namespace mqlab::models
