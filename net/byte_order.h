// Big-endian loads and stores, the byte order of both AMQP and Kafka on the wire.
#pragma once

#include <bit>
#include <cstring>
#include <string>

namespace mqlab::net {

template <typename T>
T load_be(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = std::byteswap(v);
  return v;
}

template <typename T>
void store_be(char* p, T v) {
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = std::byteswap(v);
  std::memcpy(p, &v, sizeof v);
}

template <typename T>
void append_be(std::string& out, T v) {
  char b[sizeof v];
  store_be(b, v);
  out.append(b, sizeof v);
}

}  // namespace mqlab::net
