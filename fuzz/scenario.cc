// Fuzz target: a scenario file's text through the parser and validator `mqlab validate` and
// `mqlab run` use. Whatever the text, the answer is a scenario or diagnostics naming places.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "workbench/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto parsed = mqlab::workbench::parse_scenario(text);
  if (!parsed && parsed.error().empty()) std::abort();  // a refusal always says why and where
  return 0;
}
