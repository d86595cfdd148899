#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mimir {
namespace {

TEST(Schedule, WarmsUpLinearlyThenDecaysToZero) {
    OptimizerSettings s;
    s.learning_rate = 1.0f;
    s.warmup_ratio = 0.1f;
    const int total = 100;  // 10 warmup steps
    EXPECT_FLOAT_EQ(learning_rate_at(s, 0, total), 0.1f);
    EXPECT_FLOAT_EQ(learning_rate_at(s, 9, total), 1.0f);
    EXPECT_FLOAT_EQ(learning_rate_at(s, 10, total), 1.0f);
    EXPECT_NEAR(learning_rate_at(s, 55, total), 0.5f, 1e-6);  // cosine half way
    EXPECT_NEAR(learning_rate_at(s, 99, total), 0.0f, 1e-3);
    s.schedule = Schedule::Linear;
    EXPECT_NEAR(learning_rate_at(s, 55, total), 0.5f, 1e-6);
    EXPECT_NEAR(learning_rate_at(s, 28, total), 0.8f, 1e-6);
    s.schedule = Schedule::Constant;
    EXPECT_FLOAT_EQ(learning_rate_at(s, 80, total), 1.0f);
    s.warmup_ratio = 0;
    EXPECT_FLOAT_EQ(learning_rate_at(s, 0, total), 1.0f);
}

TEST(Schedule, EveryFlagNameParsesToTheScheduleThatPrintsIt) {
    EXPECT_EQ(schedules_by_name().size(), 3u);
    for (const auto& [name, schedule] : schedules_by_name()) EXPECT_EQ(schedule_name(schedule), name);
    EXPECT_EQ(schedules_by_name().count("zigzag"), 0u);
}

struct OneTensor {
    GgmlContextHandle ctx{ggml_init({4 * ggml_tensor_overhead() + 1024, nullptr, false})};
    ggml_tensor* param = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, 2);
    ggml_tensor* grad = ggml_new_tensor_1d(ctx.get(), GGML_TYPE_F32, 2);
    void set(float p0, float p1, float g0, float g1) {
        ggml_set_f32_1d(param, 0, p0);
        ggml_set_f32_1d(param, 1, p1);
        ggml_set_f32_1d(grad, 0, g0);
        ggml_set_f32_1d(grad, 1, g1);
    }
};

TEST(AdamW, FirstStepMovesEachWeightByTheLearningRateAgainstItsGradient) {
    OneTensor t;
    t.set(1.0f, -1.0f, 0.5f, -2.0f);
    OptimizerSettings s;
    s.max_grad_norm = 0;
    AdamW adam({t.param}, s);
    StepOutcome out = adam.step({t.grad}, 1, 0.01f);
    EXPECT_TRUE(out.applied);
    EXPECT_NEAR(out.grad_norm, std::sqrt(0.25f + 4.0f), 1e-5);
    EXPECT_NEAR(ggml_get_f32_1d(t.param, 0), 0.99f, 1e-5);  // bias-corrected m / sqrt(v) = sign(g)
    EXPECT_NEAR(ggml_get_f32_1d(t.param, 1), -0.99f, 1e-5);
    EXPECT_EQ(adam.steps_taken(), 1);
}

TEST(AdamW, AveragesOverSummedSequencesAndClipsTheNorm) {
    OneTensor t;
    t.set(0, 0, 30.0f, 40.0f);  // summed over 5 sequences: mean gradient (6, 8), norm 10
    OptimizerSettings s;
    s.max_grad_norm = 1.0f;
    AdamW adam({t.param}, s);
    StepOutcome out = adam.step({t.grad}, 5, 0.1f);
    EXPECT_NEAR(out.grad_norm, 10.0f, 1e-4);                     // reported before clipping
    EXPECT_NEAR(adam.first_moments()[0][0], 0.1f * 0.6f, 1e-6);  // clipped to norm 1: (0.6, 0.8)
    EXPECT_NEAR(adam.first_moments()[0][1], 0.1f * 0.8f, 1e-6);
}

TEST(AdamW, DecoupledWeightDecayShrinksWeights) {
    OneTensor t;
    t.set(2.0f, 2.0f, 0.0f, 0.0f);
    OptimizerSettings s;
    s.weight_decay = 0.1f;
    AdamW adam({t.param}, s);
    adam.step({t.grad}, 1, 0.5f);
    EXPECT_NEAR(ggml_get_f32_1d(t.param, 0), 2.0f * (1 - 0.5f * 0.1f), 1e-6);
}

TEST(AdamW, NonFiniteGradientSkipsTheStepAndLeavesEverythingUntouched) {
    OneTensor t;
    t.set(1.0f, 2.0f, NAN, 1.0f);
    AdamW adam({t.param}, {});
    StepOutcome out = adam.step({t.grad}, 1, 0.1f);
    EXPECT_FALSE(out.applied);
    EXPECT_EQ(ggml_get_f32_1d(t.param, 0), 1.0f);
    EXPECT_EQ(ggml_get_f32_1d(t.param, 1), 2.0f);
    EXPECT_EQ(adam.steps_taken(), 0);
    EXPECT_EQ(adam.first_moments()[0][1], 0.0f);
    ggml_set_f32_1d(t.grad, 0, INFINITY);
    EXPECT_FALSE(adam.step({t.grad}, 1, 0.1f).applied);
}

}  // namespace
}  // namespace mimir
