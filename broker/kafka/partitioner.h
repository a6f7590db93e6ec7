// Producer partitioning exactly as the Java client does it: an explicit partition wins; a key
// goes to toPositive(murmur2(key)) % partitions (so the same key always lands on the same
// partition, and on the same one the Java client and librdkafka's murmur2_random pick); records
// without a key stick to one partition until a batch is full (KIP-480), or go round-robin.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mqlab::broker::kafka {

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c.
std::int32_t murmur2(std::span<const std::uint8_t> data);
std::int32_t murmur2(std::string_view data);
/// Utils.toPositive: clears the sign bit (not abs: -2^31 stays representable).
constexpr std::int32_t to_positive(std::int32_t n) { return n & 0x7fffffff; }

/// The partition for a key under the default partitioner.
std::int32_t partition_for_key(std::string_view key, std::int32_t partitions);

enum class keyless_strategy { sticky, round_robin };

/// Chooses partitions for one producer and topic.
class partitioner {
 public:
  partitioner(std::int32_t partitions, keyless_strategy strategy, std::uint64_t seed = 1);

  /// `explicit_partition` > key hash > sticky / round-robin.
  std::int32_t choose(std::optional<std::int32_t> explicit_partition, std::optional<std::string_view> key);
  /// The sticky partition moves on when the current batch is complete.
  void on_new_batch();

 private:
  std::int32_t partitions_;
  keyless_strategy strategy_;
  std::uint64_t state_;
  std::int32_t sticky_ = -1;
  std::int32_t next_ = 0;
};

}  // namespace mqlab::broker::kafka
