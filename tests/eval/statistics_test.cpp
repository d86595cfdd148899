#include "eval/statistics.h"

#include <gtest/gtest.h>

namespace mimir::eval {
namespace {

TEST(Statistics, WilsonIntervalMatchesPublishedValues) {
    const Interval eight_of_ten = wilson_interval(8, 10);
    EXPECT_NEAR(eight_of_ten.low, 0.4902, 1e-4);
    EXPECT_NEAR(eight_of_ten.high, 0.9433, 1e-4);
    const Interval none = wilson_interval(0, 10);
    EXPECT_NEAR(none.low, 0, 1e-12);
    EXPECT_NEAR(none.high, 0.2775, 1e-4);
    const Interval many = wilson_interval(95, 100);
    EXPECT_NEAR(many.low, 0.8882, 1e-4);
    EXPECT_NEAR(many.high, 0.9785, 1e-4);
    const Interval empty = wilson_interval(0, 0);
    EXPECT_EQ(empty.low, 0);
    EXPECT_EQ(empty.high, 1);
}

TEST(Statistics, McNemarExactIsATwoSidedBinomialTest) {
    EXPECT_NEAR(mcnemar_exact_p(1, 9), 22.0 / 1024, 1e-12);  // 2 * (C(10,0) + C(10,1)) / 2^10
    EXPECT_NEAR(mcnemar_exact_p(9, 1), 22.0 / 1024, 1e-12);
    EXPECT_NEAR(mcnemar_exact_p(0, 5), 2.0 / 32, 1e-12);
    EXPECT_EQ(mcnemar_exact_p(4, 4), 1);
    EXPECT_EQ(mcnemar_exact_p(0, 0), 1);
    EXPECT_LT(mcnemar_exact_p(0, 200), 1e-50);
}

TEST(Statistics, ChrfOfKnownPairs) {
    EXPECT_DOUBLE_EQ(chrf("same text", "same text"), 100);
    EXPECT_DOUBLE_EQ(chrf("abc", "xyz"), 0);
    EXPECT_DOUBLE_EQ(chrf("", "xyz"), 0);
    // "ab" vs "abc": unigrams P 1, R 2/3; bigrams P 1, R 1/2 -> P 1, R 7/12, F2 = 5PR/(4P+R) = 35/55.
    EXPECT_NEAR(chrf("ab", "abc"), 100.0 * 35 / 55, 1e-9);
    EXPECT_DOUBLE_EQ(chrf("a b", "ab"), 100);  // whitespace is ignored
    EXPECT_GT(chrf("The cat sat.", "The cat sat down."), chrf("A dog ran.", "The cat sat down."));
}

}  // namespace
}  // namespace mimir::eval
