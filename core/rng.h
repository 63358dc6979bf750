// Random numbers: xoshiro256** seeded through splitmix64.
//
// The whole state is four 64-bit words, so a checkpoint can store it and a resumed
// run continues the exact same stream. Every draw is a plain function of the state:
// no hidden caches, no dependence on the standard library's distributions.
#pragma once

#include <array>
#include <cstdint>

namespace entlab {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);

  uint64_t next_u64();
  // Uniform in [0, 1) with 24 bits of precision (exactly representable as float).
  float uniform();
  // Uniform in [low, high).
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  // Uniform integer in [low, high], both ends included.
  int64_t randint(int64_t low, int64_t high);
  // Standard normal by the Box-Muller transform (one of the pair is used).
  float normal();
  bool bernoulli(float probability) { return uniform() < probability; }

  using State = std::array<uint64_t, 4>;
  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  State state_{};
};

// Derives an independent seed for a named stream from a base seed (e.g. data vs init).
uint64_t derive_seed(uint64_t base_seed, uint64_t stream);

}  // namespace entlab
