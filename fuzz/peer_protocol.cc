// Fuzz target: bytes from a cluster peer's link through the peer protocol's frame reader. A
// frame that reads must write and read back to the same frame (its encoding is a fixed point).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/amqp/peer_protocol.h"

using namespace mqlab::net::amqp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int frames = 0; frames < 64 && !in.empty(); ++frames) {
    auto read = peer::read(in);
    if (!read || !*read) return 0;
    std::string once, twice;
    peer::write(once, (*read)->first);
    auto again = peer::read(once);
    if (!again || !*again || (*again)->second != once.size()) std::abort();
    peer::write(twice, (*again)->first);
    if (twice != once) std::abort();
    in.remove_prefix((*read)->second);
  }
  return 0;
}
