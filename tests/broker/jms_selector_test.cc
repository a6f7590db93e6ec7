// JMS message selectors, with the examples of the JMS 1.1 specification (§3.8.1) and SQL's
// three-valued logic for missing properties.
#include "broker/jms/selector.h"

#include <gtest/gtest.h>

#include <map>

namespace mqlab::broker::jms {
namespace {

using props = std::map<std::string, value, std::less<>>;

bool select(std::string_view text, const props& p) {
  auto s = selector::compile(text);
  EXPECT_TRUE(s.has_value()) << text << ": " << (s ? "" : s.error().message);
  return s && s->matches([&](std::string_view id) {
    auto it = p.find(id);
    return it == p.end() ? value{} : it->second;
  });
}

TEST(jms_selector, the_specifications_car_example) {
  const props car{{"JMSType", std::string("car")}, {"color", std::string("blue")}, {"weight", std::int64_t{3000}}};
  EXPECT_TRUE(select("JMSType = 'car' AND color = 'blue' AND weight > 2500", car));
  EXPECT_FALSE(select("JMSType = 'car' AND color = 'red'", car));
  EXPECT_TRUE(select("", car));  // an empty selector selects everything
}

TEST(jms_selector, missing_properties_are_null_and_unknown_is_not_true) {
  const props none;
  EXPECT_FALSE(select("weight > 5", none));
  EXPECT_FALSE(select("NOT (weight > 5)", none));  // NOT UNKNOWN is still UNKNOWN
  EXPECT_TRUE(select("weight IS NULL", none));
  EXPECT_FALSE(select("weight IS NOT NULL", none));
  EXPECT_TRUE(select("weight > 5 OR TRUE", none));    // UNKNOWN OR TRUE = TRUE
  EXPECT_FALSE(select("weight > 5 AND TRUE", none));  // UNKNOWN AND TRUE = UNKNOWN
  EXPECT_FALSE(select("weight > 5 OR FALSE", none));
}

struct like_case {
  const char* pattern;
  const char* text;
  bool matches;
};

class jms_like : public ::testing::TestWithParam<like_case> {};

TEST_P(jms_like, follows_the_specification) {
  const auto& c = GetParam();
  EXPECT_EQ(select(std::string("v LIKE ") + c.pattern, {{"v", std::string(c.text)}}), c.matches)
      << c.pattern << " vs " << c.text;
}

INSTANTIATE_TEST_SUITE_P(spec, jms_like,
                         ::testing::Values(like_case{"'12%3'", "123", true}, like_case{"'12%3'", "12993", true},
                                           like_case{"'12%3'", "1234", false}, like_case{"'l_se'", "lose", true},
                                           like_case{"'l_se'", "loose", false},
                                           like_case{"'\\_%' ESCAPE '\\'", "_foo", true},
                                           like_case{"'\\_%' ESCAPE '\\'", "bar", false},
                                           like_case{"'%'", "", true}, like_case{"'a%b%c'", "aXXbYYc", true}));

TEST(jms_selector, in_between_and_arithmetic) {
  const props p{{"Country", std::string("UK")}, {"age", std::int64_t{17}}, {"price", 2.5}, {"quantity", std::int64_t{50}}};
  EXPECT_TRUE(select("Country IN ('UK', 'US', 'France')", p));
  EXPECT_FALSE(select("Country NOT IN ('UK', 'US', 'France')", p));
  EXPECT_FALSE(select("Region IN ('EU')", p));  // NULL IN (...) is UNKNOWN
  EXPECT_TRUE(select("age BETWEEN 15 AND 19", p));
  EXPECT_FALSE(select("age NOT BETWEEN 15 AND 19", p));
  EXPECT_TRUE(select("price * quantity > 100", p));
  EXPECT_TRUE(select("-age < -16 AND age / 2 = 8", p));  // integer division, as in Java
  EXPECT_TRUE(select("price = 2.5 AND quantity = 50.0", p));  // exact and approximate compare by value
  EXPECT_FALSE(select("Country > 'A'", p));  // strings support only = and <>
  EXPECT_TRUE(select("Country = 'UK' AND NOT Country = 'US'", p));
  EXPECT_TRUE(select("note = 'it''s'", {{"note", std::string("it's")}}));
}

struct error_case {
  const char* text;
  int column;
  const char* message;
};

class jms_selector_errors : public ::testing::TestWithParam<error_case> {};

TEST_P(jms_selector_errors, name_the_column) {
  const auto& c = GetParam();
  auto s = selector::compile(c.text);
  ASSERT_FALSE(s.has_value()) << c.text;
  EXPECT_EQ(s.error().column, c.column) << c.text << ": " << s.error().message;
  EXPECT_NE(s.error().message.find(c.message), std::string::npos) << s.error().message;
}

INSTANTIATE_TEST_SUITE_P(invalid, jms_selector_errors,
                         ::testing::Values(error_case{"color = 'blue", 9, "unterminated"},
                                           error_case{"a = = 3", 5, "unexpected '='"},
                                           error_case{"a LIKE 5", 8, "string literal"},
                                           error_case{"age BETWEEN 1 OR 2", 15, "expected AND"},
                                           error_case{"(a = 1", 7, "expected ')'"},
                                           error_case{"a ~ 1", 3, "unexpected character"},
                                           error_case{"a IS 5", 6, "expected NULL"}));

}  // namespace
}  // namespace mqlab::broker::jms
