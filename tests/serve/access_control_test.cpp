#include "serve/access_control.h"

#include <gtest/gtest.h>

namespace mimir::serve {
namespace {

TEST(ConstantTimeEquals, ComparesWholeStrings) {
    EXPECT_TRUE(constant_time_equals("secret-key", "secret-key"));
    EXPECT_FALSE(constant_time_equals("secret-key", "secret-kez"));
    EXPECT_FALSE(constant_time_equals("secret-key", "secret-ke"));
    EXPECT_FALSE(constant_time_equals("secret-key", "secret-key-and-more"));
    EXPECT_FALSE(constant_time_equals("secret-key", ""));
    EXPECT_FALSE(constant_time_equals("", "anything"));
    // A cyclic repeat of the key must not pass.
    EXPECT_FALSE(constant_time_equals("ab", "abab"));
}

TEST(BearerToken, StripsTheSchemeCaseInsensitively) {
    EXPECT_EQ(bearer_token("Bearer abc"), "abc");
    EXPECT_EQ(bearer_token("bearer  abc "), "abc");
    EXPECT_EQ(bearer_token(""), "");
    EXPECT_EQ(bearer_token("abc"), "abc");
}

TEST(RateLimiter, AllowsTheBurstThenRefillsOverTime) {
    RateLimiter limiter(60, 3);  // one a second, three at once
    auto t0 = RateLimiter::Clock::now();
    EXPECT_TRUE(limiter.allow("a", t0));
    EXPECT_TRUE(limiter.allow("a", t0));
    EXPECT_TRUE(limiter.allow("a", t0));
    EXPECT_FALSE(limiter.allow("a", t0));
    EXPECT_TRUE(limiter.allow("b", t0)) << "clients have separate budgets";
    EXPECT_FALSE(limiter.allow("a", t0 + std::chrono::milliseconds(500)));
    EXPECT_TRUE(limiter.allow("a", t0 + std::chrono::milliseconds(1600)));
    EXPECT_EQ(limiter.retry_after_seconds(), 1);
}

TEST(RateLimiter, ZeroDisablesLimiting) {
    RateLimiter limiter(0, 1);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.allow("a"));
    EXPECT_EQ(limiter.tracked_clients(), 0u);
}

TEST(RateLimiter, TableStaysBoundedUnderManyAddresses) {
    RateLimiter limiter(60, 5);
    auto t0 = RateLimiter::Clock::now();
    for (int i = 0; i < 25000; ++i) (void)limiter.allow("10.0." + std::to_string(i), t0);
    EXPECT_LE(limiter.tracked_clients(), 10000u);
}

}  // namespace
}  // namespace mimir::serve
