// Producer partitioning: murmur2 against the Java client's published test values, and the
// seed's promise that one key always lands on one partition (so its order is kept).
#include "broker/kafka/partitioner.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace mqlab::broker::kafka {
namespace {

TEST(murmur2, matches_the_java_client) {
  // From Kafka's UtilsTest.testMurmur2 and the Akka/Pekko copies of Kafka's implementation.
  const std::map<std::string, std::int32_t> cases = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
      {"1", -1993445489},
      {"12", 126087238},
      {"123", -267702483},
      {"1234", -1614185708},
      {"12345", -1188365604},
  };
  for (const auto& [key, expected] : cases) EXPECT_EQ(murmur2(key), expected) << key;
}

TEST(partitioner, a_key_always_goes_to_the_same_partition) {
  partitioner p(6, keyless_strategy::sticky);
  for (const std::string key : {"user-1", "user-2", "order-77"}) {
    const auto first = p.choose(std::nullopt, key);
    EXPECT_EQ(first, to_positive(murmur2(key)) % 6);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(p.choose(std::nullopt, key), first);
  }
}

TEST(partitioner, explicit_partition_wins_over_the_key) {
  partitioner p(6, keyless_strategy::sticky);
  EXPECT_EQ(p.choose(4, std::string_view("user-1")), 4);
}

TEST(partitioner, keyless_records_stick_until_the_batch_is_full) {
  partitioner p(6, keyless_strategy::sticky);
  const auto first = p.choose(std::nullopt, std::nullopt);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.choose(std::nullopt, std::nullopt), first);
  p.on_new_batch();
  EXPECT_NE(p.choose(std::nullopt, std::nullopt), first);  // a new batch moves to another partition
  std::set<std::int32_t> used;
  for (int b = 0; b < 200; ++b) {
    p.on_new_batch();
    used.insert(p.choose(std::nullopt, std::nullopt));
  }
  EXPECT_EQ(used.size(), 6u);  // over many batches every partition gets some
}

TEST(partitioner, round_robin_cycles) {
  partitioner p(3, keyless_strategy::round_robin);
  std::vector<std::int32_t> seq;
  for (int i = 0; i < 6; ++i) seq.push_back(p.choose(std::nullopt, std::nullopt));
  EXPECT_EQ(seq, (std::vector<std::int32_t>{0, 1, 2, 0, 1, 2}));
}

}  // namespace
}  // namespace mqlab::broker::kafka
