// Record values: shared immutable bytes, null distinct from empty, and values packed by an
// arena that stay intact however many chunks later the arena has moved on.
#include "broker/kafka/shared_bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mqlab::broker::kafka {
namespace {

TEST(shared_bytes, null_is_not_empty_and_copies_share_the_bytes) {
  const shared_bytes null;
  const shared_bytes empty("");
  EXPECT_FALSE(null.has_value());
  EXPECT_TRUE(empty.has_value());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_NE(null, empty);
  const shared_bytes a("payload");
  const shared_bytes b = a;
  EXPECT_EQ((*a).data(), (*b).data()) << "a copy is the same bytes, not a duplicate";
  EXPECT_EQ(b, shared_bytes(std::string("payload")));
}

TEST(byte_arena, values_keep_their_bytes_after_the_arena_moves_on_and_is_gone) {
  std::vector<shared_bytes> kept;
  {
    byte_arena arena(256);
    for (int i = 0; i < 100; ++i) {
      const std::string text = "value-" + std::to_string(i);
      kept.push_back(arena.filled(text.size(), [&](char* out) { text.copy(out, text.size()); }));
    }
    kept.push_back(arena.filled(1000, [](char* out) { std::fill_n(out, 1000, 'x'); }));  // over a chunk
    kept.push_back(arena.filled(0, [](char*) {}));
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*kept[static_cast<std::size_t>(i)], "value-" + std::to_string(i));
  EXPECT_EQ(*kept[100], std::string(1000, 'x'));
  EXPECT_TRUE(kept[101].has_value()) << "an empty value is not a tombstone";
  EXPECT_EQ(kept[101].size(), 0u);
  EXPECT_EQ((*kept[1]).data(), (*kept[0]).data() + 7) << "packed one after another";
}

}  // namespace
}  // namespace mqlab::broker::kafka
