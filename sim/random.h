// Deterministic random numbers: xoshiro256++ generators, one per named stream, all derived
// from the run's seed and the stream's name, so adding an entity (a new stream) never
// changes the draws of another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mqlab::sim {

namespace detail {
/// The ziggurat's layers for the exponential density: k[i] is the 53-bit threshold under which
/// a point of layer i lies inside the density, w[i] scales 53 bits to x, f[i] = exp(-x_i).
struct ziggurat_tables {
  std::uint64_t k[256];
  double w[256];
  double f[256];
};
extern const ziggurat_tables exponential_ziggurat;
}  // namespace detail

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
  /// Exponential with mean 1, by Marsaglia and Tsang's ziggurat (256 layers): one draw and a
  /// compare 99% of the time, exact (a rejection method, not an approximation), and several
  /// times cheaper than -log(u), which dominated the hold model's event cost.
  double exponential() {
    const std::uint64_t u = next();
    const std::size_t layer = u & 0xff;
    const std::uint64_t j = u >> 11;  // 53 bits, disjoint from the layer's
    if (j < detail::exponential_ziggurat.k[layer]) return static_cast<double>(j) * detail::exponential_ziggurat.w[layer];
    return exponential_edge(layer, j);
  }

 private:
  double exponential_edge(std::size_t layer, std::uint64_t j);
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
