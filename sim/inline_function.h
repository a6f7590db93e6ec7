// A move-only callable with inline storage, so scheduling an event with a small capture
// (a few pointers and numbers) does not allocate. Larger callables fall back to the heap.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace mqlab::sim {

template <typename Signature, std::size_t Capacity = 48>
class inline_function;

/// `inline_function<R(Args...), N>`: like std::move_only_function, with N bytes kept inline.
template <typename R, typename... Args, std::size_t Capacity>
class inline_function<R(Args...), Capacity> {
 public:
  inline_function() = default;

  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, inline_function> && std::is_invocable_r_v<R, F&, Args...>)
  inline_function(F&& f) {  // NOLINT(google-explicit-constructor): used like std::function
    construct(std::forward<F>(f));
  }

  /// Replaces the held callable by constructing `f` in place (no relocation).
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, inline_function> && std::is_invocable_r_v<R, F&, Args...>)
  void emplace(F&& f) {
    reset();
    construct(std::forward<F>(f));
  }

  inline_function(inline_function&& o) noexcept : ops_(o.ops_) {
    if (ops_) {
      ops_->relocate(storage_, o.storage_);
      o.ops_ = nullptr;
    }
  }

  inline_function& operator=(inline_function&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_) {
        ops_->relocate(storage_, o.storage_);
        o.ops_ = nullptr;
      }
    }
    return *this;
  }

  inline_function(const inline_function&) = delete;
  inline_function& operator=(const inline_function&) = delete;
  ~inline_function() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }

  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

  /// Destroys the held callable; the function becomes empty.
  void reset() {
    if (ops_) {
      if (ops_->destroy) ops_->destroy(storage_);
      ops_ = nullptr;
    }
  }

 private:
  template <typename F>
  void construct(F&& f) {
    using T = std::remove_cvref_t<F>;
    if constexpr (fits_inline<T>()) {
      ::new (static_cast<void*>(storage_)) T(std::forward<F>(f));
      ops_ = &inline_ops<T>;
    } else {
      ::new (static_cast<void*>(storage_)) T*(new T(std::forward<F>(f)));
      ops_ = &heap_ops<T>;
    }
  }

  struct ops {
    R (*invoke)(void*, Args&&...);
    void (*relocate)(void* dst, void* src);  // move-construct into dst, destroy src
    void (*destroy)(void*);  // null when there is nothing to destroy
  };

  template <typename T>
  static constexpr bool fits_inline() {
    return sizeof(T) <= Capacity && alignof(T) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<T>;
  }

  template <typename T>
  static constexpr ops inline_ops{
      [](void* p, Args&&... a) -> R { return (*std::launder(static_cast<T*>(p)))(std::forward<Args>(a)...); },
      [](void* dst, void* src) {
        T* s = std::launder(static_cast<T*>(src));
        ::new (dst) T(std::move(*s));
        s->~T();
      },
      std::is_trivially_destructible_v<T> ? nullptr : +[](void* p) { std::launder(static_cast<T*>(p))->~T(); },
  };

  template <typename T>
  static constexpr ops heap_ops{
      [](void* p, Args&&... a) -> R { return (**static_cast<T**>(p))(std::forward<Args>(a)...); },
      [](void* dst, void* src) { ::new (dst) T*(*static_cast<T**>(src)); },
      [](void* p) { delete *static_cast<T**>(p); },
  };

  alignas(std::max_align_t) std::byte storage_[Capacity];
  const ops* ops_ = nullptr;
};

}  // namespace mqlab::sim
