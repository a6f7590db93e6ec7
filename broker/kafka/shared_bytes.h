// A record's value as the log keeps it: immutable and shared, so a follower's copy, a fetch
// and a consumer's buffer hold the same bytes instead of copies, as Kafka serves every reader
// from the same segment file. Null (no bytes at all) is distinct from empty: a null value is
// a tombstone.
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
  shared_bytes(std::string_view s) : size_(s.size()) {  // NOLINT(google-explicit-constructor)
    auto bytes = std::make_shared_for_overwrite<char[]>(std::max<std::size_t>(s.size(), 1));
    std::memcpy(bytes.get(), s.data(), s.size());
    data_ = std::move(bytes);
  }
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

}  // namespace mqlab::broker::kafka
