// The topics → partitions nesting most Kafka requests and their responses share: a response
// repeats each topic name and partition index of its request, in order.
#pragma once

#include <string>

#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

/// Reads the request's topic and partition arrays and writes the same nesting into `out`;
/// for each partition, `entry(topic, partition)` reads the rest of the request entry and writes
/// the response fields that follow the partition index. `partition_size` is the smallest
/// request entry, which bounds the array count a hostile request may claim.
template <typename Entry>
void for_each_partition(wire_reader& in, wire_writer& out, std::size_t partition_size, Entry&& entry) {
  const std::int32_t topics = in.array(6);
  out.array(static_cast<std::size_t>(topics));
  for (std::int32_t t = 0; t < topics; ++t) {
    const std::string name(in.string());
    out.string(name);
    const std::int32_t partitions = in.array(partition_size);
    out.array(static_cast<std::size_t>(partitions));
    for (std::int32_t i = 0; i < partitions; ++i) {
      const std::int32_t p = in.int32();
      out.int32(p);
      entry(name, p);
    }
  }
}

}  // namespace mqlab::net::kafka
