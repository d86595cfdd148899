#include "model/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
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

TEST(LogSoftmax, ProbabilitiesOfTheWholeVocabularySumToOne) {
    std::mt19937 random(11);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    std::vector<float> logits(32064);
    for (float& logit : logits) logit = normal(random) + 30.0f;  // large logits: exp would overflow naively
    const LogSoftmax log_softmax(logits.data(), static_cast<int32_t>(logits.size()));
    double sum = 0;
    for (int32_t token = 0; token < static_cast<int32_t>(logits.size()); ++token) {
        EXPECT_LE(log_softmax.at(token), 0.0f);
        sum += std::exp(static_cast<double>(log_softmax.at(token)));
    }
    EXPECT_NEAR(sum, 1.0, 1e-3);
}

TEST(LogSoftmax, LikeliestAreSortedAndStartWithTheArgMax) {
    std::mt19937 random(5);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::vector<float> logits(5000);
    for (float& logit : logits) logit = normal(random);
    logits[42] = logits[43] = 100.0f;  // a tie: the smaller id first
    const LogSoftmax log_softmax(logits.data(), static_cast<int32_t>(logits.size()));
    const std::vector<llama_token> top = log_softmax.likeliest(20);
    ASSERT_EQ(top.size(), 20u);
    EXPECT_EQ(top[0], arg_max(logits.data(), static_cast<int32_t>(logits.size())));
    EXPECT_EQ(top[1], 43);
    for (size_t i = 1; i < top.size(); ++i) EXPECT_GE(log_softmax.at(top[i - 1]), log_softmax.at(top[i]));
    std::vector<float> sorted = logits;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    EXPECT_EQ(logits[static_cast<size_t>(top[19])], sorted[19]);
    EXPECT_TRUE(log_softmax.likeliest(0).empty());
}

TEST(ValidateSampling, UsesTheSharedLimits) {
    using L = SamplingLimits;
    auto with = [](auto change) {
        SamplingParams params;
        change(params);
        return validate_sampling(params);
    };
    EXPECT_TRUE(with([](SamplingParams& p) { p.temperature = L::kMaxTemperature; }).ok());
    EXPECT_FALSE(with([](SamplingParams& p) { p.temperature = L::kMaxTemperature + 0.01f; }).ok());
    EXPECT_FALSE(with([](SamplingParams& p) { p.top_p = 0; }).ok());
    EXPECT_FALSE(with([](SamplingParams& p) { p.top_k = L::kMaxTopK + 1; }).ok());
    EXPECT_TRUE(with([](SamplingParams& p) { p.repeat_penalty = L::kMinRepeatPenalty; }).ok());
    EXPECT_FALSE(with([](SamplingParams& p) { p.repeat_penalty = L::kMaxRepeatPenalty + 0.5f; }).ok());
    EXPECT_FALSE(with([](SamplingParams& p) { p.stop.assign(L::kMaxStopStrings + 1, "x"); }).ok());
    EXPECT_TRUE(with([](SamplingParams& p) { p.stop.assign(L::kMaxStopStrings, "x"); }).ok());
    EXPECT_TRUE(with([](SamplingParams& p) {
                    p.logprobs = true;
                    p.top_logprobs = L::kMaxTopLogprobs;
                }).ok());
    EXPECT_FALSE(with([](SamplingParams& p) {
                     p.logprobs = true;
                     p.top_logprobs = L::kMaxTopLogprobs + 1;
                 }).ok());
    Status needs_logprobs = with([](SamplingParams& p) { p.top_logprobs = 3; });
    ASSERT_FALSE(needs_logprobs.ok());
    EXPECT_NE(needs_logprobs.error().message.find("top_logprobs"), std::string::npos);
}

}  // namespace
}  // namespace mimir
