// How the fuzz targets hand an input to a protocol state machine: as a client's byte stream cut
// into pieces of a size the input's last byte chooses, so that frames split across reads (and
// several frames in one read) are exercised as a socket would deliver them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mqlab::fuzz {

template <typename Receive>
void feed(const std::uint8_t* data, std::size_t size, Receive receive) {
  if (size == 0) return;
  const std::size_t piece = 1 + static_cast<std::size_t>(data[size - 1]) * 37;
  const std::string_view stream(reinterpret_cast<const char*>(data), size - 1);
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    if (!receive(stream.substr(at, std::min(piece, stream.size() - at)))) return;
  }
}

}  // namespace mqlab::fuzz
