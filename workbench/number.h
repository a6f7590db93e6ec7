// Numbers in flags, ranges and the environment: the whole text or nothing, so that "8x", "-1"
// for a count or "" are refused rather than read in part.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace mqlab::workbench {

/// `text` as a T when all of it is one (std::from_chars syntax: no sign for unsigned types, no
/// leading '+' or spaces); nullopt otherwise.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace mqlab::workbench
