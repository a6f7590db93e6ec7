// The Kafka wire primitives and record batch v2, checked against the protocol guide's
// definitions: the CRC-32C check value, zigzag varint encodings, a batch laid out field by
// field as the message-format page describes it, and corrupt input refused with Kafka's codes.
#include "net/crc32c.h"
#include "net/kafka/compression.h"
#include "net/kafka/record_batch.h"
#include "net/kafka/wire.h"

#include <functional>
#include <random>

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <gtest/gtest.h>

namespace mqlab::net::kafka {
namespace {

std::string encoded_varint(std::int64_t v) {
  std::string out;
  wire_writer(out).varlong(v);
  return out;
}

TEST(kafka_wire, crc32c_has_the_castagnoli_check_value) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // RFC 3720 B.4 / the catalogue check value
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(kafka_wire, varints_are_zigzag_encoded_as_in_protocol_buffers) {
  EXPECT_EQ(encoded_varint(0), std::string("\x00", 1));
  EXPECT_EQ(encoded_varint(-1), "\x01");
  EXPECT_EQ(encoded_varint(1), "\x02");
  EXPECT_EQ(encoded_varint(-64), "\x7f");
  EXPECT_EQ(encoded_varint(64), "\x80\x01");
  for (std::int64_t v : {INT64_MIN, std::int64_t{-300}, std::int64_t{300}, INT64_MAX}) {
    const std::string bytes = encoded_varint(v);
    wire_reader r(bytes);
    EXPECT_EQ(r.varlong(), v);
    EXPECT_EQ(r.remaining(), 0u);
  }
}

TEST(kafka_wire, lengths_beyond_the_input_are_malformed_not_allocations) {
  std::string bytes;
  wire_writer w(bytes);
  w.int32(1'000'000);  // an array count no request of this size can hold
  wire_reader r(bytes);
  EXPECT_THROW((void)r.array(4), wire_error);
  wire_reader s(std::string_view("\x00\x05" "ab", 4));
  EXPECT_THROW((void)s.string(), wire_error);
  const std::string endless(11, '\xff');
  wire_reader v(endless);
  EXPECT_THROW((void)v.varlong(), wire_error);
}

// A batch built field by field from the message-format documentation, independent of batch_writer.
/// `pack` turns the records section into what the attributes' codec says it is (unchanged: none).
std::string hand_built_batch(std::int16_t attributes = 0, std::int8_t magic = 2,
                             const std::function<std::string(const std::string&)>& pack = {}) {
  std::string records;
  wire_writer rw(records);
  auto record = [&](std::int64_t ts_delta, std::int32_t offset_delta, std::string_view key, std::string_view value) {
    std::string body;
    wire_writer b(body);
    b.int8(0);
    b.varlong(ts_delta);
    b.varint(offset_delta);
    b.varint(static_cast<std::int32_t>(key.size()));
    b.raw(key);
    b.varint(static_cast<std::int32_t>(value.size()));
    b.raw(value);
    b.varint(1);  // one header
    b.varint(2);
    b.raw("id");
    b.varint(1);
    b.raw("7");
    rw.varint(static_cast<std::int32_t>(body.size()));
    rw.raw(body);
  };
  record(0, 0, "k1", "hello");
  record(5, 1, "k2", "world");
  std::string after_crc;
  wire_writer a(after_crc);
  a.int16(attributes);
  a.int32(1);                  // lastOffsetDelta
  a.int64(1'700'000'000'000);  // firstTimestamp
  a.int64(1'700'000'000'005);  // maxTimestamp
  a.int64(-1);
  a.int16(-1);
  a.int32(-1);
  a.int32(2);
  a.raw(pack ? pack(records) : records);
  std::string batch;
  wire_writer w(batch);
  w.int64(0);
  w.int32(static_cast<std::int32_t>(4 + 1 + 4 + after_crc.size()));
  w.int32(0);
  w.int8(magic);
  w.int32(static_cast<std::int32_t>(crc32c(after_crc)));
  w.raw(after_crc);
  return batch;
}

TEST(kafka_record_batch, a_documented_batch_decodes_to_its_records) {
  auto records = decode_record_set(hand_built_batch(), 0);
  ASSERT_TRUE(records) << records.error().text;
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].key, "k1");
  EXPECT_EQ((*records)[0].value, "hello");
  EXPECT_EQ((*records)[1].timestamp_ms, 1'700'000'000'005);
  ASSERT_EQ((*records)[1].headers.size(), 1u);
  EXPECT_EQ((*records)[1].headers[0].first, "id");
  EXPECT_EQ((*records)[1].headers[0].second, "7");
}

TEST(kafka_record_batch, writer_output_is_a_valid_batch_with_offsets_and_nulls_kept) {
  std::vector<broker::kafka::record> in(3);
  for (std::size_t i = 0; i < in.size(); ++i) {
    in[i].offset = 40 + static_cast<std::int64_t>(i) * 2;  // a compacted log skips offsets
    in[i].timestamp_ms = 1000 + static_cast<std::int64_t>(i);
    in[i].key = "key" + std::to_string(i);
    in[i].value = "value" + std::to_string(i);
  }
  in[1].key = std::nullopt;
  in[2].value = std::nullopt;  // a tombstone
  std::string out;
  batch_writer w(out);
  for (const auto& r : in) w.add(r);
  w.finish();
  wire_reader header(out);
  EXPECT_EQ(header.int64(), 40);  // baseOffset
  auto back = decode_record_set(out, 0);
  ASSERT_TRUE(back) << back.error().text;
  ASSERT_EQ(back->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*back)[i].offset, in[i].offset);  // base offset + delta
    EXPECT_EQ((*back)[i].key, in[i].key);
    EXPECT_EQ((*back)[i].value, in[i].value);
    EXPECT_EQ((*back)[i].timestamp_ms, in[i].timestamp_ms);
  }
}

TEST(kafka_record_batch, null_and_empty_keys_values_and_header_values_stay_apart) {
  // Length -1 is null and 0 is empty: a tombstone is not an empty value, nor a header without
  // a value one with an empty value.
  std::vector<broker::kafka::record> in(2);
  in[0].key = std::nullopt;
  in[0].value = "";
  in[0].headers = {{"absent", std::nullopt}, {"empty", std::string()}};
  in[1].offset = 1;
  in[1].key = "";
  in[1].value = std::nullopt;
  std::string out;
  batch_writer w(out);
  for (const auto& r : in) w.add(r);
  w.finish();
  auto back = decode_record_set(out, 0).value();
  ASSERT_EQ(back.size(), 2u);
  EXPECT_FALSE(back[0].key.has_value());
  ASSERT_TRUE(back[0].value.has_value());
  EXPECT_EQ(*back[0].value, "");
  ASSERT_EQ(back[0].headers.size(), 2u);
  EXPECT_FALSE(back[0].headers[0].second.has_value());
  EXPECT_EQ(back[0].headers[1].second, std::optional<std::string>(""));
  ASSERT_TRUE(back[1].key.has_value());
  EXPECT_EQ(*back[1].key, "");
  EXPECT_FALSE(back[1].value.has_value());
}

TEST(kafka_record_batch, a_flipped_bit_fails_the_crc) {
  std::string batch = hand_built_batch();
  batch[batch.size() - 3] ^= 0x10;
  auto r = decode_record_set(batch, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::corrupt_message);
  EXPECT_NE(r.error().text.find("CRC"), std::string::npos);
}

std::string gzipped(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // + 16: a gzip header, as producers write
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string snappied(const std::string& in) {
  std::string out;
  snappy::Compress(in.data(), in.size(), &out);
  return out;
}

std::string lz4_framed(const std::string& in) {
  std::string out(LZ4F_compressFrameBound(in.size(), nullptr), '\0');
  out.resize(LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), nullptr));
  return out;
}

std::string zstd_framed(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

TEST(kafka_record_batch, batches_compressed_with_each_codec_decode_to_the_same_records) {
  const auto plain = decode_record_set(hand_built_batch(), 0).value();
  const std::pair<std::int16_t, std::string (*)(const std::string&)> codecs[] = {
      {1, gzipped}, {2, snappied}, {3, lz4_framed}, {4, zstd_framed}};
  for (const auto& [attributes, pack] : codecs) {
    auto records = decode_record_set(hand_built_batch(attributes, 2, pack), 0);
    ASSERT_TRUE(records) << attributes << ": " << records.error().text;
    ASSERT_EQ(records->size(), plain.size()) << attributes;
    for (std::size_t i = 0; i < plain.size(); ++i) {
      EXPECT_EQ((*records)[i].key, plain[i].key);
      EXPECT_EQ((*records)[i].value, plain[i].value);
      EXPECT_EQ((*records)[i].headers, plain[i].headers);
    }
  }
  // The Java client frames snappy as xerial does: header, then length-prefixed blocks.
  const auto xerial = [](const std::string& in) {
    std::string out("\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01", 16);
    const std::string block = snappied(in);
    wire_writer(out).int32(static_cast<std::int32_t>(block.size()));
    return out + block;
  };
  EXPECT_TRUE(decode_record_set(hand_built_batch(2, 2, xerial), 0).has_value());
}

TEST(kafka_record_batch, a_compressed_batch_may_not_inflate_without_bound) {
  const std::string zeros(1 << 20, '\0');  // a megabyte of zeros is a kilobyte of gzip
  EXPECT_EQ(decompress(codec::gzip, gzipped(zeros), 1 << 20)->size(), zeros.size());
  const auto bomb = decompress(codec::gzip, gzipped(zeros), 64 << 10);
  ASSERT_FALSE(bomb);
  EXPECT_NE(bomb.error().find("inflates past 65536 bytes"), std::string::npos) << bomb.error();
  EXPECT_FALSE(decompress(codec::zstd, zstd_framed(zeros), 64 << 10));
  EXPECT_FALSE(decompress(codec::lz4, lz4_framed(zeros), 64 << 10));
  EXPECT_FALSE(decompress(codec::snappy, snappied(zeros), 64 << 10));
  // Damaged compressed bytes are CORRUPT_MESSAGE, not a crash.
  auto damaged = hand_built_batch(1, 2, [](const std::string& in) { return gzipped(in).substr(0, 12); });
  EXPECT_EQ(decode_record_set(damaged, 0).error().code, error_code::corrupt_message);
}

TEST(kafka_record_batch, unknown_codecs_old_magic_and_truncation_are_refused_with_kafka_codes) {
  EXPECT_EQ(decode_record_set(hand_built_batch(5), 0).error().code, error_code::unsupported_compression_type);
  EXPECT_EQ(decode_record_set(hand_built_batch(0, 1), 0).error().code, error_code::corrupt_message);
  const std::string batch = hand_built_batch();
  for (std::size_t cut : {std::size_t{10}, std::size_t{60}, batch.size() - 1}) {
    EXPECT_EQ(decode_record_set(batch.substr(0, cut), 0).error().code, error_code::corrupt_message) << cut;
  }
}

TEST(kafka_record_batch, log_append_time_batches_take_the_brokers_clock) {
  auto records = decode_record_set(hand_built_batch(0x08), 99);
  ASSERT_TRUE(records);
  for (const auto& r : *records) EXPECT_EQ(r.timestamp_ms, 99);
}

TEST(kafka_record_batch, random_damage_never_crashes_and_never_passes_the_crc) {
  std::mt19937_64 rng(7);
  const std::string valid = hand_built_batch();
  // Only baseOffset (0..7) and partitionLeaderEpoch (12..15) may change without failing a check:
  // the length, the magic and the CRC itself are checked, attributes onwards are CRC-covered.
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 3 == 0) bytes.resize(rng() % bytes.size());
    const bool checked_damage = bytes.size() != valid.size() || bytes.compare(8, 4, valid, 8, 4) != 0 ||
                                bytes.compare(16, std::string::npos, valid, 16) != 0;
    if (checked_damage) EXPECT_FALSE(decode_record_set(bytes, 0).has_value()) << "mutation " << i << " size " << bytes.size();
    else EXPECT_TRUE(decode_record_set(bytes, 0).has_value()) << "base offset and leader epoch are not covered";
  }
}

}  // namespace
}  // namespace mqlab::net::kafka
