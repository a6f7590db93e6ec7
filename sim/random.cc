// xoshiro256++ and the naming of streams.
#include "sim/random.h"

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

}  // namespace

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
