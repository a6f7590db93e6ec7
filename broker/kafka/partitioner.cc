// murmur2 as in the Java client: 4-byte little-endian blocks, then the 1-3 byte tail.
#include "broker/kafka/partitioner.h"

namespace mqlab::broker::kafka {

std::int32_t murmur2(std::span<const std::uint8_t> data) {
  constexpr std::uint32_t seed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto length = static_cast<std::uint32_t>(data.size());
  std::uint32_t h = seed ^ length;
  const std::size_t blocks = data.size() / 4;
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::size_t at = i * 4;
    std::uint32_t k = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (static_cast<std::uint32_t>(data[at + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::size_t tail = blocks * 4;
  switch (data.size() % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

std::int32_t murmur2(std::string_view data) {
  return murmur2(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

std::int32_t partition_for_key(std::string_view key, std::int32_t partitions) {
  return to_positive(murmur2(key)) % partitions;
}

partitioner::partitioner(std::int32_t partitions, keyless_strategy strategy, std::uint64_t seed)
    : partitions_(partitions), strategy_(strategy), state_(seed) {}

void partitioner::on_new_batch() { sticky_ = -1; }

std::int32_t partitioner::choose(std::optional<std::int32_t> explicit_partition, std::optional<std::string_view> key) {
  if (explicit_partition) return *explicit_partition;
  if (key) return partition_for_key(*key, partitions_);
  if (strategy_ == keyless_strategy::round_robin) {
    const std::int32_t p = next_;
    next_ = (next_ + 1) % partitions_;
    return p;
  }
  if (sticky_ < 0) {
    // A new sticky partition, different from the last one when there is a choice (KIP-480).
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    auto candidate = static_cast<std::int32_t>((state_ >> 33) % static_cast<std::uint64_t>(partitions_));
    if (partitions_ > 1 && candidate == next_) candidate = (candidate + 1) % partitions_;
    sticky_ = candidate;
    next_ = candidate;
  }
  return sticky_;
}

}  // namespace mqlab::broker::kafka
