#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mimir {

float learning_rate_at(const OptimizerSettings& s, int step, int total_steps) {
    const int warmup = static_cast<int>(std::ceil(s.warmup_ratio * static_cast<float>(total_steps)));
    if (step < warmup) return s.learning_rate * static_cast<float>(step + 1) / static_cast<float>(warmup);
    if (s.schedule == "constant") return s.learning_rate;
    const int decay_steps = std::max(1, total_steps - warmup);
    const float progress = std::clamp(static_cast<float>(step - warmup) / static_cast<float>(decay_steps), 0.0f, 1.0f);
    if (s.schedule == "linear") return s.learning_rate * (1.0f - progress);
    return s.learning_rate * 0.5f * (1.0f + std::cos(std::numbers::pi_v<float> * progress));
}

AdamW::AdamW(std::vector<ggml_tensor*> parameters, OptimizerSettings settings)
    : parameters_(std::move(parameters)), settings_(std::move(settings)) {
    for (const ggml_tensor* p : parameters_) {
        m_.emplace_back(static_cast<size_t>(ggml_nelements(p)), 0.0f);
        v_.emplace_back(static_cast<size_t>(ggml_nelements(p)), 0.0f);
    }
}

StepOutcome AdamW::step(const std::vector<ggml_tensor*>& gradients, int n_summed, float learning_rate) {
    StepOutcome outcome;
    const float average = 1.0f / static_cast<float>(std::max(1, n_summed));
    double squared = 0.0;
    for (const ggml_tensor* g : gradients) {
        const float* data = static_cast<const float*>(g->data);
        for (int64_t i = 0; i < ggml_nelements(g); ++i) squared += static_cast<double>(data[i]) * data[i];
    }
    outcome.grad_norm = static_cast<float>(std::sqrt(squared)) * average;
    if (!std::isfinite(outcome.grad_norm)) return outcome;
    float scale = average;
    if (settings_.max_grad_norm > 0 && outcome.grad_norm > settings_.max_grad_norm) {
        scale *= settings_.max_grad_norm / outcome.grad_norm;
    }
    ++t_;
    const float b1 = settings_.beta1, b2 = settings_.beta2;
    const float correction1 = 1.0f - std::pow(b1, static_cast<float>(t_));
    const float correction2 = 1.0f - std::pow(b2, static_cast<float>(t_));
    const float decay = 1.0f - learning_rate * settings_.weight_decay;
    for (size_t p = 0; p < parameters_.size(); ++p) {
        float* w = static_cast<float*>(parameters_[p]->data);
        const float* g = static_cast<const float*>(gradients[p]->data);
        float* m = m_[p].data();
        float* v = v_[p].data();
        for (size_t i = 0; i < m_[p].size(); ++i) {
            const float grad = g[i] * scale;
            m[i] = b1 * m[i] + (1.0f - b1) * grad;
            v[i] = b2 * v[i] + (1.0f - b2) * grad * grad;
            const float update = (m[i] / correction1) / (std::sqrt(v[i] / correction2) + settings_.epsilon);
            w[i] = w[i] * decay - learning_rate * update;
        }
    }
    outcome.applied = true;
    return outcome;
}

}  // namespace mimir
