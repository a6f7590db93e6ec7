// Bounded random-input test of the scenario parser: mutated lab files and random bytes must
// give a scenario or diagnostics — never a crash, an exception or a hang.
#include "workbench/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace mqlab::workbench {
namespace {

std::vector<std::string> lab_texts() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(MQLAB_SCENARIOS_DIR)) {
    if (e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

std::string mutate(std::string s, std::mt19937_64& gen) {
  static const std::string alphabet = "{}[]:,-#&*!|>'\"%@` \n\tabc0123456789.sm/";
  const int edits = 1 + static_cast<int>(gen() % 6);
  for (int i = 0; i < edits && !s.empty(); ++i) {
    const std::size_t at = gen() % s.size();
    switch (gen() % 4) {
      case 0: s[at] = alphabet[gen() % alphabet.size()]; break;                // replace
      case 1: s.insert(at, 1, alphabet[gen() % alphabet.size()]); break;       // insert
      case 2: s.erase(at, 1 + gen() % 20); break;                               // delete a run
      default: s.insert(at, s.substr(gen() % s.size(), gen() % 40)); break;     // duplicate a piece
    }
  }
  return s;
}

TEST(scenario_fuzz, mutated_labs_never_crash) {
  const auto labs = lab_texts();
  ASSERT_FALSE(labs.empty());
  std::mt19937_64 gen(2024);
  int valid = 0, invalid = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = mutate(labs[gen() % labs.size()], gen);
    auto sc = parse_scenario(text);
    if (sc) {
      ++valid;
    } else {
      ++invalid;
      EXPECT_FALSE(sc.error().items().empty());
    }
  }
  // Both outcomes occur: the mutations are neither all harmless nor all fatal.
  EXPECT_GT(valid, 0);
  EXPECT_GT(invalid, 0);
}

TEST(scenario_fuzz, random_bytes_never_crash) {
  std::mt19937_64 gen(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text(gen() % 200, '\0');
    for (auto& c : text) c = static_cast<char>(gen() % 256);
    auto sc = parse_scenario(text);
    if (!sc) {
      EXPECT_FALSE(sc.error().items().empty());
    }
  }
}

}  // namespace
}  // namespace mqlab::workbench
