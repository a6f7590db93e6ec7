// The compression codecs of record batch v2 (attributes & 7): gzip (zlib), snappy (raw, or the
// Java client's xerial framing), lz4 (the LZ4 frame format) and zstd, decompressed with the
// Debian libraries. Output is bounded: a batch may not inflate past a limit, so a small
// request cannot make the broker allocate without end (a decompression bomb).
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace mqlab::net::kafka {

enum class codec : int { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

/// The most bytes one batch's records may take once decompressed (64 MiB, beyond Kafka's
/// default max.message.bytes of 1 MiB by far).
inline constexpr std::size_t max_decompressed_batch = std::size_t{64} << 20;

/// `in` decompressed with `c` (not none), at most `limit` bytes; the error names the codec
/// and the cause.
std::expected<std::string, std::string> decompress(codec c, std::string_view in, std::size_t limit = max_decompressed_batch);

}  // namespace mqlab::net::kafka
