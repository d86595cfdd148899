#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

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

// The textbook update, element by element, for comparison with the row-skipping one.
struct ReferenceAdam {
    std::vector<float> m, v;
    int t = 0;
    void step(std::vector<float>& w, const std::vector<float>& g, float lr, const OptimizerSettings& s) {
        if (m.empty()) m.assign(w.size(), 0.0f), v.assign(w.size(), 0.0f);
        ++t;
        for (size_t i = 0; i < w.size(); ++i) {
            m[i] = s.beta1 * m[i] + (1 - s.beta1) * g[i];
            v[i] = s.beta2 * v[i] + (1 - s.beta2) * g[i] * g[i];
            const float m_hat = m[i] / (1 - std::pow(s.beta1, static_cast<float>(t)));
            const float v_hat = v[i] / (1 - std::pow(s.beta2, static_cast<float>(t)));
            w[i] = w[i] * (1 - lr * s.weight_decay) - lr * m_hat / (std::sqrt(v_hat) + s.epsilon);
        }
    }
};

// Rows whose gradient has always been zero are skipped; a row that starts receiving gradients late, and
// a resume that loads moments, must still give the textbook result.
TEST(AdamW, RowsWithoutGradientsAreSkippedWithTheSameResult) {
    for (float weight_decay : {0.0f, 0.01f}) {
        SCOPED_TRACE(weight_decay);
        GgmlContextHandle ctx(ggml_init({4 * ggml_tensor_overhead() + 4096, nullptr, false}));
        ggml_tensor* param = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, 4, 3);  // 3 rows of 4
        ggml_tensor* grad = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, 4, 3);
        std::vector<float> w(12), reference_w;
        for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i) - 0.5f;
        reference_w = w;
        std::memcpy(param->data, w.data(), sizeof(float) * 12);
        OptimizerSettings s;
        s.max_grad_norm = 0;
        s.weight_decay = weight_decay;
        AdamW adam({param}, s);
        ReferenceAdam reference;
        for (int step = 0; step < 6; ++step) {
            std::vector<float> g(12, 0.0f);
            for (int i = 0; i < 4; ++i) g[i] = 0.3f - 0.1f * static_cast<float>(i + step);  // row 0: always
            if (step >= 3)
                for (int i = 8; i < 12; ++i) g[i] = 0.05f * static_cast<float>(i - step);  // row 2: late
            std::memcpy(grad->data, g.data(), sizeof(float) * 12);                         // row 1: never
            if (step == 4) adam.first_moments();  // as a resume does: the skip must not trust old state
            ASSERT_TRUE(adam.step({grad}, 1, 0.05f).applied);
            reference.step(reference_w, g, 0.05f, s);
        }
        const float* ours = static_cast<const float*>(param->data);
        for (size_t i = 0; i < 12; ++i) EXPECT_NEAR(ours[i], reference_w[i], 1e-6f) << "element " << i;
        EXPECT_NE(ours[9], w[9]) << "the late row moved";
        if (weight_decay == 0.0f) {
            EXPECT_EQ(ours[5], w[5]) << "the row without gradients stays exactly where it was";
        }
    }
}

}  // namespace
}  // namespace mimir
