// Small shared facts about the machine and reproducible randomness.
#pragma once

#include <cstdint>
#include <string_view>

namespace mimir {

// Threads to use when the user did not say: every core the machine reports, at least one.
int default_thread_count();

// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator whose sequence is the same on every platform
// and standard library, so a seed reproduces a data split, a shuffle or random weights anywhere (and a
// resumed training run sees the same order).
class SplitMix64 {
  public:
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double unit() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }

  private:
    uint64_t state_;
};

// FNV-1a, 64 bits: a stable fingerprint of a text (the same on every platform), for logs and seeds.
uint64_t fnv1a_64(std::string_view text);

}  // namespace mimir
