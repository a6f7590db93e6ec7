// Parsing of durations and rates, including the errors users see.
#include "sim/time.h"

#include <gtest/gtest.h>

namespace mqlab::sim {
namespace {

struct duration_case {
  const char* text;
  std::int64_t ns;
};

class parse_duration_ok : public testing::TestWithParam<duration_case> {};

TEST_P(parse_duration_ok, reads_value_and_unit) {
  auto d = parse_duration(GetParam().text);
  ASSERT_TRUE(d.has_value()) << d.error();
  EXPECT_EQ(d->ns(), GetParam().ns);
}

INSTANTIATE_TEST_SUITE_P(units, parse_duration_ok,
                         testing::Values(duration_case{"250us", 250'000}, duration_case{"5ms", 5'000'000},
                                         duration_case{"2.5s", 2'500'000'000}, duration_case{"1m", 60'000'000'000},
                                         duration_case{"1min", 60'000'000'000},
                                         duration_case{"1h", 3'600'000'000'000}, duration_case{"100ns", 100},
                                         duration_case{"0", 0}, duration_case{" 50 ms ", 50'000'000},
                                         duration_case{"0.001ms", 1'000}));

TEST(parse_duration, rejects_unknown_unit_and_names_allowed_ones) {
  auto d = parse_duration("5xs");
  ASSERT_FALSE(d.has_value());
  EXPECT_NE(d.error().find("unknown unit 'xs'"), std::string::npos) << d.error();
  EXPECT_NE(d.error().find("ms"), std::string::npos);
}

TEST(parse_duration, rejects_missing_unit_and_garbage) {
  EXPECT_FALSE(parse_duration("5").has_value());
  EXPECT_FALSE(parse_duration("ms").has_value());
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("1e400s").has_value());
}

TEST(parse_rate, reads_per_unit_rates) {
  EXPECT_DOUBLE_EQ(*parse_rate("200/s"), 200.0);
  EXPECT_DOUBLE_EQ(*parse_rate("6000/min"), 100.0);
  EXPECT_DOUBLE_EQ(*parse_rate("3/ms"), 3000.0);
  EXPECT_DOUBLE_EQ(*parse_rate("42"), 42.0);
  EXPECT_FALSE(parse_rate("200/parsec").has_value());
  EXPECT_FALSE(parse_rate("200 per s").has_value());
}

TEST(format_duration, picks_readable_unit) {
  EXPECT_EQ(format_duration(150_ms), "150ms");
  EXPECT_EQ(format_duration(duration::milliseconds(2500)), "2.5s");
  EXPECT_EQ(format_duration(730_us), "730us");
}

TEST(sim_time, arithmetic_between_points_and_spans) {
  const sim_time t0 = sim_time() + 5_ms;
  const sim_time t1 = t0 + 2_s;
  EXPECT_EQ((t1 - t0).ns(), 2'000'000'000);
  EXPECT_LT(t0, t1);
}

}  // namespace
}  // namespace mqlab::sim
