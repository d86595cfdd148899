// The gate on synthetic paired results: the accuracy floor, a check the candidate fails on many cases the
// current passes (McNemar p < 0.05: refused, naming the check), a difference within noise (promoted), and
// the first promotion with nothing to compare.
#include "promote/gate.h"

#include <gtest/gtest.h>

namespace mimir::promote {
namespace {

// One tier's results on `cases` cases: case i fails tone.no_emoticons when fails(i).
template <typename Fails>
eval::TierResult tier(const std::string& name, int cases, Fails fails) {
    eval::TierResult result{.name = name};
    for (int i = 0; i < cases; ++i) {
        const bool failed = fails(i);
        eval::CaseResult c;
        c.samples.push_back(
            {.reply = "r",
             .checks = {{failed ? eval::Outcome::failed : eval::Outcome::passed}, {eval::Outcome::passed}}});
        c.passed = !failed;
        if (failed) c.failing_checks = {"tone.no_emoticons"};
        result.passed += c.passed;
        result.cases.push_back(c);
    }
    return result;
}

eval::EvalReport report_of(std::vector<eval::TierResult> tiers, int cases) {
    eval::EvalReport report;
    report.completed = cases;
    report.check_names = {"tone.no_emoticons", "similarity.reference"};
    report.tiers = std::move(tiers);
    return report;
}

TEST(Gate, ACandidateBelowTheMinimumAccuracyIsRefused) {
    const auto report = report_of({tier("candidate", 10, [](int i) { return i < 2; })}, 10);
    const GateDecision decision = decide_promotion(report, 0, std::nullopt, {.min_accuracy = 0.95});
    EXPECT_FALSE(decision.promote);
    EXPECT_DOUBLE_EQ(decision.candidate_accuracy, 0.8);
    EXPECT_NE(decision.reason.find("below the minimum"), std::string::npos) << decision.reason;
}

TEST(Gate, TheFirstPromotionGatesOnAccuracyAlone) {
    const auto report = report_of({tier("candidate", 10, [](int) { return false; })}, 10);
    const GateDecision decision = decide_promotion(report, 0, std::nullopt, {.min_accuracy = 0.95});
    EXPECT_TRUE(decision.promote) << decision.reason;
    EXPECT_FALSE(decision.current_accuracy.has_value());
    EXPECT_TRUE(decision.comparisons.empty());
}

TEST(Gate, WorseOnACheckBeyondNoiseIsRefusedNamingTheCheck) {
    // 8 cases only the current passes, none only the candidate: exact McNemar p = 2 / 2^8 < 0.05.
    const auto report = report_of(
        {tier("candidate", 20, [](int i) { return i < 8; }), tier("current", 20, [](int) { return false; })},
        20);
    const GateDecision decision = decide_promotion(report, 0, 1, {.min_accuracy = 0.5});
    EXPECT_FALSE(decision.promote);
    EXPECT_NE(decision.reason.find("tone.no_emoticons"), std::string::npos) << decision.reason;
    ASSERT_EQ(decision.comparisons.size(), 2u) << "the whole case and the one gating check";
    EXPECT_EQ(decision.comparisons[0].check, "tone.no_emoticons");
    EXPECT_EQ(decision.comparisons[0].only_current, 8);
    EXPECT_LT(decision.comparisons[0].p_value, 0.05);
    EXPECT_TRUE(decision.comparisons[0].candidate_worse);
    EXPECT_EQ(decision.summary({}).at("comparisons").size(), 2u);
}

TEST(Gate, AWorseCountWithinNoiseIsPromoted) {
    // 2 against 0 discordant cases: p = 0.5, the kind of difference a re-run could reverse.
    const auto report = report_of(
        {tier("candidate", 20, [](int i) { return i < 2; }), tier("current", 20, [](int) { return false; })},
        20);
    const GateDecision decision = decide_promotion(report, 0, 1, {.min_accuracy = 0.5});
    EXPECT_TRUE(decision.promote) << decision.reason;
    ASSERT_TRUE(decision.current_accuracy.has_value());
    EXPECT_DOUBLE_EQ(*decision.current_accuracy, 1.0);
    EXPECT_FALSE(decision.comparisons[0].candidate_worse);
}

TEST(Gate, ACurrentThatCouldNotBeEvaluatedLeavesTheAccuracyAlone) {
    auto current = tier("current", 0, [](int) { return false; });
    current.error = "checksum_mismatch: fine-tuned.gguf";
    const auto report = report_of({tier("candidate", 10, [](int) { return false; }), current}, 10);
    const GateDecision decision = decide_promotion(report, 0, 1, {.min_accuracy = 0.95});
    EXPECT_TRUE(decision.promote);
    EXPECT_NE(decision.reason.find("checksum_mismatch"), std::string::npos) << decision.reason;
}

TEST(Gate, ACandidateThatCouldNotBeEvaluatedIsRefused) {
    auto candidate = tier("candidate", 0, [](int) { return false; });
    candidate.error = "tier_not_loaded";
    const GateDecision decision = decide_promotion(report_of({candidate}, 0), 0, std::nullopt, {});
    EXPECT_FALSE(decision.promote);
    EXPECT_NE(decision.reason.find("tier_not_loaded"), std::string::npos);
}

}  // namespace
}  // namespace mimir::promote
