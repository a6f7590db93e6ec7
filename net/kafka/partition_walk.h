// The topics → partitions nesting most Kafka requests and their responses share: a response
// repeats each topic name and partition index of its request, in order; a message built from a
// list of partitions writes the same nesting.
#pragma once

#include <string>
#include <vector>

#include "net/kafka/wire.h"

namespace mqlab::net::kafka {

/// Reads the request's topic and partition arrays and, unless `out` is null, writes the same
/// nesting into it; for each partition, `entry(topic, partition)` reads the rest of the request
/// entry and writes the response fields that follow the partition index. `partition_size` is
/// the smallest request entry, which bounds the array count a hostile request may claim.
template <typename Entry>
void for_each_partition(wire_reader& in, wire_writer* out, std::size_t partition_size, Entry&& entry) {
  const std::int32_t topics = in.array(6);
  if (out) out->array(static_cast<std::size_t>(topics));
  for (std::int32_t t = 0; t < topics; ++t) {
    const std::string name(in.string());
    if (out) out->string(name);
    const std::int32_t partitions = in.array(partition_size);
    if (out) out->array(static_cast<std::size_t>(partitions));
    for (std::int32_t i = 0; i < partitions; ++i) {
      const std::int32_t p = in.int32();
      if (out) out->int32(p);
      entry(name, p);
    }
  }
}

/// Writes `items`, which come grouped by topic, as topics → partitions: `topic_of(item)` names
/// an item's topic, `entry(item)` writes its partition entry.
template <typename Item, typename TopicOf, typename Entry>
void write_by_topic(wire_writer& out, const std::vector<Item>& items, TopicOf topic_of, Entry entry) {
  std::size_t topics = 0;
  for (std::size_t i = 0; i < items.size(); ++i) topics += i == 0 || topic_of(items[i]) != topic_of(items[i - 1]);
  out.array(topics);
  for (std::size_t i = 0; i < items.size();) {
    std::size_t j = i;
    while (j < items.size() && topic_of(items[j]) == topic_of(items[i])) ++j;
    out.string(topic_of(items[i]));
    out.array(j - i);
    for (; i < j; ++i) entry(items[i]);
  }
}

}  // namespace mqlab::net::kafka
