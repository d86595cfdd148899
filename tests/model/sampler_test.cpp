#include "model/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mimir {
namespace {

TEST(ArgMax, AgreesWithMaxElementOnVocabularySizedLogits) {
    std::mt19937 random(7);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (int32_t n : {1, 15, 16, 17, 511, 512, 513, 32064}) {
        std::vector<float> logits(static_cast<size_t>(n));
        for (float& logit : logits) logit = normal(random);
        const auto expected =
            static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        EXPECT_EQ(arg_max(logits.data(), n), expected) << "n=" << n;
    }
}

TEST(ArgMax, TakesTheFirstOfEqualMaxima) {
    std::vector<float> logits(32064, 0.0f);
    logits[30000] = 5.0f;
    logits[700] = 5.0f;
    logits[701] = 5.0f;
    EXPECT_EQ(arg_max(logits.data(), 32064), 700);
    logits.back() = 6.0f;
    EXPECT_EQ(arg_max(logits.data(), 32064), 32063);
}

TEST(ArgMax, SkipsNaNsAndHandlesInfinities) {
    std::vector<float> logits(1000, -INFINITY);
    EXPECT_EQ(arg_max(logits.data(), 1000), 0);
    logits[3] = NAN;
    logits[900] = -1.0f;
    EXPECT_EQ(arg_max(logits.data(), 1000), 900);
    std::fill(logits.begin(), logits.end(), NAN);
    EXPECT_EQ(arg_max(logits.data(), 1000), 0);
}

}  // namespace
}  // namespace mimir
