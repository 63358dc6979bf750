#include "core/rng.h"

#include <cmath>

#include "core/error.h"

namespace entlab {

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void Rng::reseed(uint64_t seed) {
  uint64_t x = seed;
  for (auto& word : state_) word = splitmix64(x);
}

uint64_t Rng::next_u64() {
  // xoshiro256** (Blackman and Vigna, 2018).
  uint64_t result = rotl(state_[1] * 5, 7) * 9;
  uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

float Rng::uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

int64_t Rng::randint(int64_t low, int64_t high) {
  ENTLAB_ASSERT(high >= low);
  uint64_t range = static_cast<uint64_t>(high - low) + 1;
  // Rejection sampling removes the modulo bias.
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t draw = next_u64();
  while (draw >= limit) draw = next_u64();
  return low + static_cast<int64_t>(draw % range);
}

float Rng::normal() {
  // 1 - u keeps the argument of log in (0, 1].
  double u1 = 1.0 - static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

uint64_t derive_seed(uint64_t base_seed, uint64_t stream) {
  uint64_t x = base_seed ^ (stream * 0xd1342543de82ef95ULL);
  return splitmix64(x);
}

}  // namespace entlab
