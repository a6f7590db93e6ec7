// Fuzz target: a record set (one or more v2 batches, maybe compressed) through the decoder a
// Produce request uses. What decodes must encode again into a batch that decodes to the same
// records: the broker stores and serves what it accepted without loss.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/kafka/record_batch.h"

using namespace mqlab;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view set(reinterpret_cast<const char*>(data), size);
  auto records = net::kafka::decode_record_set(set, 1'000);
  if (!records) return 0;
  std::string again;
  net::kafka::batch_writer batch(again);
  std::int64_t offset = 0;
  for (auto r : *records) {
    r.offset = offset++;
    batch.add(r);
  }
  batch.finish();
  const auto back = net::kafka::decode_record_set(again, 1'000);
  if (!back || back->size() != records->size()) std::abort();
  for (std::size_t i = 0; i < back->size(); ++i) {
    const auto& a = (*records)[i];
    const auto& b = (*back)[i];
    if (a.key != b.key || a.value != b.value || a.headers != b.headers || a.timestamp_ms != b.timestamp_ms) std::abort();
  }
  return 0;
}
