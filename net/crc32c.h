// CRC-32C (Castagnoli), the checksum of Kafka's magic-2 record batches and of every record the
// storage layer writes (as RabbitMQ's and Kafka's own files use a CRC per record).
#pragma once

#include <cstdint>
#include <string_view>

namespace mqlab::net {

std::uint32_t crc32c(std::string_view bytes);

}  // namespace mqlab::net
