// Deterministic random numbers: xoshiro256++ generators, one per named stream, all derived
// from the run's seed and the stream's name, so adding an entity (a new stream) never
// changes the draws of another.
#pragma once

#include <cstdint>
#include <string_view>

namespace mqlab::sim {

/// xoshiro256++ (Blackman & Vigna): 256-bit state, period 2^256 - 1, passes BigCrush.
class rng {
 public:
  /// Seeds the state through splitmix64, as the authors recommend.
  explicit rng(std::uint64_t seed);

  std::uint64_t next();
  /// Uniform on the open interval (0, 1): never 0, so log(u) is always finite.
  double uniform01() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  /// Uniform integer in [0, n). REQUIRES: n > 0.
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t s_[4];
};

/// Hands out independent generators by name for one run.
class random_streams {
 public:
  explicit random_streams(std::uint64_t seed) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }
  /// The generator for `name`: the same name and seed always give the same sequence.
  rng stream(std::string_view name) const;
  /// A derived family, e.g. one per replication: streams of `fork("rep-3")` differ from ours.
  random_streams fork(std::string_view name) const;

 private:
  std::uint64_t seed_;
};

/// splitmix64 finaliser: a bijective 64-bit mixer.
std::uint64_t mix64(std::uint64_t x);

}  // namespace mqlab::sim
