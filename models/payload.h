// What simulated producers put in a message body so consumers can measure it: a small
// trivially-copyable struct at the front of a body padded to the configured message size.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace mqlab::models {

/// Writes a body of `bytes` bytes (REQUIRES: at least the struct's size) that starts with `p`.
template <typename Payload>
  requires std::is_trivially_copyable_v<Payload>
void write_payload(const Payload& p, char* out, std::size_t bytes) {
  std::memcpy(out, &p, sizeof p);
  std::memset(out + sizeof p, 0, bytes - sizeof p);
}

/// A body of `bytes` bytes (at least the struct's size) that starts with `p`.
template <typename Payload>
  requires std::is_trivially_copyable_v<Payload>
std::string encode_payload(const Payload& p, std::size_t bytes) {
  std::string s(std::max(bytes, sizeof(Payload)), '\0');
  write_payload(p, s.data(), s.size());
  return s;
}

/// The struct at the front of a body written by encode_payload.
template <typename Payload>
  requires std::is_trivially_copyable_v<Payload>
Payload decode_payload(std::string_view body) {
  Payload p{};
  std::memcpy(&p, body.data(), std::min(sizeof p, body.size()));
  return p;
}

}  // namespace mqlab::models
