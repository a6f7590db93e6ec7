// xoshiro256++, the exponential ziggurat and the naming of streams.
#include "sim/random.h"

#include <cmath>

namespace mqlab::sim {
namespace {

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// FNV-1a: a stable hash of the stream name (std::hash is not stable across implementations).
std::uint64_t hash_name(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The base of the ziggurat and the area of each layer (Marsaglia & Tsang 2000, table for n = 256).
constexpr double base_x = 7.69711747013104972;
constexpr double layer_area = 3.949659822581572e-3;
constexpr double two53 = 9007199254740992.0;

detail::ziggurat_tables make_exponential_ziggurat() {
  detail::ziggurat_tables t{};
  double x = base_x;
  const double q = layer_area / std::exp(-x);
  t.k[0] = static_cast<std::uint64_t>((x / q) * two53);
  t.k[1] = 0;
  t.w[0] = q / two53;
  t.w[255] = x / two53;
  t.f[0] = 1.0;
  t.f[255] = std::exp(-x);
  for (int i = 254; i >= 1; --i) {
    const double previous = x;
    x = -std::log(layer_area / x + std::exp(-x));
    t.k[i + 1] = static_cast<std::uint64_t>((x / previous) * two53);
    t.f[i] = std::exp(-x);
    t.w[i] = x / two53;
  }
  return t;
}

}  // namespace

const detail::ziggurat_tables detail::exponential_ziggurat = make_exponential_ziggurat();

double rng::exponential_edge(std::size_t layer, std::uint64_t j) {
  const auto& z = detail::exponential_ziggurat;
  for (;;) {
    // The base layer's tail beyond base_x is exponential again (memorylessness).
    if (layer == 0) return base_x + exponential();
    const double x = static_cast<double>(j) * z.w[layer];
    if (z.f[layer] + uniform01() * (z.f[layer - 1] - z.f[layer]) < std::exp(-x)) return x;
    const std::uint64_t u = next();
    layer = u & 0xff;
    j = u >> 11;
    if (j < z.k[layer]) return static_cast<double>(j) * z.w[layer];
  }
}

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

rng::rng(std::uint64_t seed) {
  for (auto& word : s_) {
    seed = mix64(seed);
    word = seed;
  }
}

std::uint64_t rng::next() {
  const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t rng::below(std::uint64_t n) {
  // Lemire's multiply-shift with rejection: unbiased.
  for (;;) {
    const unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    const auto low = static_cast<std::uint64_t>(m);
    if (low >= n || low >= (-n) % n) return static_cast<std::uint64_t>(m >> 64);
  }
}

rng random_streams::stream(std::string_view name) const { return rng(mix64(seed_) ^ hash_name(name)); }

random_streams random_streams::fork(std::string_view name) const {
  return random_streams(mix64(seed_ ^ mix64(hash_name(name))));
}

}  // namespace mqlab::sim
