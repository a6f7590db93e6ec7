// Each codec through its library's streaming (or length-checked) interface, stopping at the limit.
#include "net/kafka/compression.h"

#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include "net/byte_order.h"

namespace mqlab::net::kafka {

namespace {

constexpr std::size_t chunk = 64 << 10;

std::string too_large(std::string_view name, std::size_t limit) {
  return fmt::format("{} batch inflates past {} bytes", name, limit);
}

/// What one call of a streaming decompressor did with the room it was given.
struct stream_step {
  std::size_t produced = 0;
  bool ended = false;    // the compressed stream is complete
  bool starved = false;  // its input is used up and more output cannot come
};

/// Grows the output a chunk at a time, never past `limit`, calling `step(to, room)` until the
/// stream ends: the loop gzip, lz4 and zstd share, each step being one library call.
template <typename Step>
std::expected<std::string, std::string> stream_out(std::string_view name, std::size_t limit, Step step) {
  std::string out;
  for (;;) {
    if (out.size() >= limit) return std::unexpected(too_large(name, limit));
    const std::size_t before = out.size();
    out.resize(std::min(before + chunk, limit));
    const std::expected<stream_step, std::string> did = step(out.data() + before, out.size() - before);
    if (!did) return std::unexpected(did.error());
    out.erase(before + did->produced);  // shrinking: erase, which GCC does not mistake for a huge memset
    if (did->ended) return out;
    if (did->starved) return std::unexpected(fmt::format("{}: data ends before the stream does", name));
  }
}

std::expected<std::string, std::string> gunzip(std::string_view in, std::size_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return std::unexpected("gzip: cannot start zlib");  // 15 + 32: gzip or zlib header
  std::unique_ptr<z_stream, int (*)(z_stream*)> end(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  return stream_out("gzip", limit, [&](char* to, std::size_t room) -> std::expected<stream_step, std::string> {
    z.next_out = reinterpret_cast<Bytef*>(to);
    z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) return std::unexpected(fmt::format("gzip: {}", z.msg ? z.msg : "corrupt data"));
    return stream_step{room - z.avail_out, rc == Z_STREAM_END, z.avail_in == 0 && z.avail_out != 0};
  });
}

/// Appends one raw snappy block to `out`.
std::expected<void, std::string> unsnappy_block(std::string_view in, std::size_t limit, std::string& out) {
  std::size_t size = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &size)) return std::unexpected("snappy: corrupt block");
  if (out.size() + size > limit) return std::unexpected(too_large("snappy", limit));
  std::string block;
  if (!snappy::Uncompress(in.data(), in.size(), &block)) return std::unexpected("snappy: corrupt block");
  out += block;
  return {};
}

std::expected<std::string, std::string> unsnappy(std::string_view in, std::size_t limit) {
  // The Java client frames snappy as xerial does: a 16-byte header, then length-prefixed blocks.
  static constexpr std::string_view xerial{"\x82SNAPPY\x00", 8};
  std::string out;
  if (!in.starts_with(xerial)) {
    if (auto ok = unsnappy_block(in, limit, out); !ok) return std::unexpected(ok.error());
    return out;
  }
  if (in.size() < 16) return std::unexpected("snappy: xerial header cut short");
  for (std::size_t at = 16; at < in.size();) {
    if (in.size() - at < 4) return std::unexpected("snappy: xerial block length cut short");
    const auto n = load_be<std::uint32_t>(in.data() + at);
    at += 4;
    if (n > in.size() - at) return std::unexpected("snappy: xerial block longer than the batch");
    if (auto ok = unsnappy_block(in.substr(at, n), limit, out); !ok) return std::unexpected(ok.error());
    at += n;
  }
  return out;
}

std::expected<std::string, std::string> unlz4(std::string_view in, std::size_t limit) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) return std::unexpected("lz4: cannot start");
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> end(ctx, LZ4F_freeDecompressionContext);
  std::size_t at = 0;
  return stream_out("lz4", limit, [&](char* to, std::size_t room) -> std::expected<stream_step, std::string> {
    std::size_t produced = room, consumed = in.size() - at;
    const std::size_t hint = LZ4F_decompress(ctx, to, &produced, in.data() + at, &consumed, nullptr);
    at += consumed;
    if (LZ4F_isError(hint)) return std::unexpected(fmt::format("lz4: {}", LZ4F_getErrorName(hint)));
    return stream_step{produced, hint == 0, at == in.size() && produced == 0};  // hint 0: the frame is complete
  });
}

std::expected<std::string, std::string> unzstd(std::string_view in, std::size_t limit) {
  std::unique_ptr<ZSTD_DStream, std::size_t (*)(ZSTD_DStream*)> z(ZSTD_createDStream(), ZSTD_freeDStream);
  if (!z || ZSTD_isError(ZSTD_initDStream(z.get()))) return std::unexpected("zstd: cannot start");
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  return stream_out("zstd", limit, [&](char* to, std::size_t room) -> std::expected<stream_step, std::string> {
    ZSTD_outBuffer output{to, room, 0};
    const std::size_t rc = ZSTD_decompressStream(z.get(), &output, &input);
    if (ZSTD_isError(rc)) return std::unexpected(fmt::format("zstd: {}", ZSTD_getErrorName(rc)));
    return stream_step{output.pos, rc == 0, input.pos == input.size && output.pos == 0};  // rc 0: a frame ended
  });
}

}  // namespace

std::expected<std::string, std::string> decompress(codec c, std::string_view in, std::size_t limit) {
  switch (c) {
    case codec::gzip: return gunzip(in, limit);
    case codec::snappy: return unsnappy(in, limit);
    case codec::lz4: return unlz4(in, limit);
    case codec::zstd: return unzstd(in, limit);
    case codec::none: break;
  }
  return std::unexpected(fmt::format("compression codec {}", static_cast<int>(c)));
}

}  // namespace mqlab::net::kafka
