// The seeded generator reproduces its sequence from a seed (resumed runs and data splits depend on it),
// and the shared defaults hold.
#include "support/system.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace mimir {
namespace {

std::vector<uint64_t> draws(uint64_t seed, int n) {
    SplitMix64 random(seed);
    std::vector<uint64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(random.next());
    return out;
}

TEST(SplitMix64, SameSeedSameSequenceOtherSeedOtherSequence) {
    EXPECT_EQ(draws(42, 100), draws(42, 100));
    EXPECT_NE(draws(42, 100), draws(43, 100));
    const std::vector<uint64_t> sequence = draws(7, 1000);
    EXPECT_EQ(std::set<uint64_t>(sequence.begin(), sequence.end()).size(), sequence.size());
}

TEST(SplitMix64, MatchesThePublishedReferenceSequence) {
    // The first outputs for seed 0 of the reference C implementation (Vigna, splitmix64.c): the sequence
    // must not depend on the platform, or checkpoints would resume with another order.
    SplitMix64 random(0);
    EXPECT_EQ(random.next(), 0xE220A8397B1DCDAFull);
    EXPECT_EQ(random.next(), 0x6E789E6AA1B965F4ull);
    EXPECT_EQ(random.next(), 0x06C45D188009454Full);
}

TEST(SplitMix64, UnitIsInZeroOneAndSpreadOut) {
    SplitMix64 random(1);
    double low = 1, high = 0, sum = 0;
    const int n = 10000;
    for (int i = 0; i < n; ++i) {
        const double u = random.unit();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        low = std::min(low, u);
        high = std::max(high, u);
        sum += u;
    }
    EXPECT_LT(low, 0.01);
    EXPECT_GT(high, 0.99);
    EXPECT_NEAR(sum / n, 0.5, 0.02);
}

TEST(Fnv1a, KnownValuesAndSensitivity) {
    EXPECT_EQ(fnv1a_64(""), 0xcbf29ce484222325ull);
    EXPECT_EQ(fnv1a_64("a"), 0xaf63dc4c8601ec8cull);
    EXPECT_NE(fnv1a_64("You are a tutor."), fnv1a_64("You are a tutor!"));
}

TEST(DefaultThreadCount, IsAtLeastOne) {
    EXPECT_GE(default_thread_count(), 1);
}

}  // namespace
}  // namespace mimir
