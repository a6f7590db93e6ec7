// A record's value as the log keeps it: immutable and shared, so a follower's copy, a fetch
// and a consumer's buffer hold the same bytes instead of copies, as Kafka serves every reader
// from the same segment file. Null (no bytes at all) is distinct from empty: a null value is
// a tombstone. A byte_arena packs many values into one allocation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mqlab::broker::kafka {

class shared_bytes {
 public:
  shared_bytes() = default;
  shared_bytes(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): reads like optional
  shared_bytes(std::string_view s)  // NOLINT(google-explicit-constructor)
      : shared_bytes(filled(s.size(), [s](char* out) { std::memcpy(out, s.data(), s.size()); })) {}
  shared_bytes(const std::string& s) : shared_bytes(std::string_view(s)) {}  // NOLINT
  shared_bytes(const char* s) : shared_bytes(std::string_view(s)) {}         // NOLINT
  shared_bytes(const std::optional<std::string_view>& s) {                     // NOLINT
    if (s) *this = shared_bytes(*s);
  }
  shared_bytes(const std::optional<std::string>& s) {  // NOLINT
    if (s) *this = shared_bytes(std::string_view(*s));
  }

  /// `size` bytes written in place by `fill(char*)`: no intermediate string.
  template <typename Fill>
  static shared_bytes filled(std::size_t size, Fill fill) {
    auto bytes = std::make_shared_for_overwrite<char[]>(std::max<std::size_t>(size, 1));
    fill(bytes.get());
    shared_bytes out;
    out.data_ = std::move(bytes);
    out.size_ = size;
    return out;
  }

  /// Shares `owner`'s allocation: the bytes at `data` stay alive while any value holds them.
  shared_bytes(const std::shared_ptr<char[]>& owner, const char* data, std::size_t size)
      : data_(owner, data), size_(size) {}

  explicit operator bool() const { return data_ != nullptr; }
  bool has_value() const { return data_ != nullptr; }
  /// The bytes. REQUIRES: has_value().
  std::string_view operator*() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }
  /// The bytes, or nullopt for null.
  std::optional<std::string_view> view() const {
    return data_ ? std::optional<std::string_view>(**this) : std::nullopt;
  }

  friend bool operator==(const shared_bytes& a, const shared_bytes& b) { return a.view() == b.view(); }

 private:
  std::shared_ptr<const char[]> data_;
  std::size_t size_ = 0;
};

/// Values written one after another into shared chunks, as a producer fills a segment: one
/// allocation per chunk rather than per value, and a chunk is freed with the last value in it.
/// A value larger than a quarter of a chunk gets an allocation of its own, so that no chunk
/// is left mostly unused for want of room for one big value.
class byte_arena {
 public:
  explicit byte_arena(std::size_t chunk_bytes = 64 << 10) : chunk_bytes_(chunk_bytes) {}

  /// `size` bytes written in place by `fill(char*)`.
  template <typename Fill>
  shared_bytes filled(std::size_t size, Fill fill) {
    if (size > chunk_bytes_ / 4) return shared_bytes::filled(size, fill);
    if (chunk_ == nullptr || used_ + size > chunk_bytes_) {
      chunk_ = std::make_shared_for_overwrite<char[]>(chunk_bytes_);
      used_ = 0;
    }
    char* at = chunk_.get() + used_;
    fill(at);
    used_ += size;
    return shared_bytes(chunk_, at, size);
  }

 private:
  std::size_t chunk_bytes_;
  std::shared_ptr<char[]> chunk_;
  std::size_t used_ = 0;
};

}  // namespace mqlab::broker::kafka
