#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mimir {

const char* schedule_name(Schedule schedule) {
    switch (schedule) {
        case Schedule::Cosine:
            return "cosine";
        case Schedule::Linear:
            return "linear";
        case Schedule::Constant:
            return "constant";
    }
    return "?";
}

const std::map<std::string, Schedule>& schedules_by_name() {
    static const std::map<std::string, Schedule> names = {
        {"cosine", Schedule::Cosine}, {"linear", Schedule::Linear}, {"constant", Schedule::Constant}};
    return names;
}

float learning_rate_at(const OptimizerSettings& s, int step, int total_steps) {
    const int warmup = static_cast<int>(std::ceil(s.warmup_ratio * static_cast<float>(total_steps)));
    if (step < warmup) return s.learning_rate * static_cast<float>(step + 1) / static_cast<float>(warmup);
    if (s.schedule == Schedule::Constant) return s.learning_rate;
    const int decay_steps = std::max(1, total_steps - warmup);
    const float progress =
        std::clamp(static_cast<float>(step - warmup) / static_cast<float>(decay_steps), 0.0f, 1.0f);
    if (s.schedule == Schedule::Linear) return s.learning_rate * (1.0f - progress);
    return s.learning_rate * 0.5f * (1.0f + std::cos(std::numbers::pi_v<float> * progress));
}

AdamW::AdamW(std::vector<ggml_tensor*> parameters, OptimizerSettings settings, int n_threads)
    : parameters_(std::move(parameters)), settings_(std::move(settings)), n_threads_(std::max(1, n_threads)) {
    for (const ggml_tensor* p : parameters_) {
        m_.emplace_back(static_cast<size_t>(ggml_nelements(p)), 0.0f);
        v_.emplace_back(static_cast<size_t>(ggml_nelements(p)), 0.0f);
    }
}

namespace {

double squared_norm(const ggml_tensor* g, int n_threads) {
    const float* data = static_cast<const float*>(g->data);
    const int64_t n = ggml_nelements(g);
    constexpr int64_t kBlock = 4096;  // float sums inside a block vectorize; blocks add up in double
    const int64_t n_blocks = (n + kBlock - 1) / kBlock;
    double sum = 0.0;
#pragma omp parallel for num_threads(n_threads) reduction(+ : sum) schedule(static) if (n > (1 << 16))
    for (int64_t b = 0; b < n_blocks; ++b) {
        float block = 0.0f;
        const int64_t end = std::min(n, (b + 1) * kBlock);
#pragma omp simd reduction(+ : block)
        for (int64_t i = b * kBlock; i < end; ++i) block += data[i] * data[i];
        sum += block;
    }
    return sum;
}

bool all_zero(const float* values, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        if (values[i] != 0.0f) return false;
    }
    return true;
}

}  // namespace

void AdamW::find_quiet_rows() {
    quiet_rows_.clear();
    for (size_t p = 0; p < parameters_.size(); ++p) {
        const int64_t width = parameters_[p]->ne[0];
        const int64_t n_rows = static_cast<int64_t>(m_[p].size()) / width;
        std::vector<uint8_t> quiet(static_cast<size_t>(n_rows));
        for (int64_t r = 0; r < n_rows; ++r)
            quiet[r] = all_zero(m_[p].data() + r * width, width) && all_zero(v_[p].data() + r * width, width);
        quiet_rows_.push_back(std::move(quiet));
    }
    quiet_rows_known_ = true;
}

StepOutcome AdamW::step(const std::vector<ggml_tensor*>& gradients, int n_summed, float learning_rate) {
    StepOutcome outcome;
    const float average = 1.0f / static_cast<float>(std::max(1, n_summed));
    double squared = 0.0;
    for (const ggml_tensor* g : gradients) squared += squared_norm(g, n_threads_);
    outcome.grad_norm = static_cast<float>(std::sqrt(squared)) * average;
    if (!std::isfinite(outcome.grad_norm)) return outcome;
    float scale = average;
    if (settings_.max_grad_norm > 0 && outcome.grad_norm > settings_.max_grad_norm) {
        scale *= settings_.max_grad_norm / outcome.grad_norm;
    }
    ++t_;
    const float b1 = settings_.beta1, b2 = settings_.beta2, eps = settings_.epsilon;
    // (m / c1) / (sqrt(v / c2) + eps), rearranged so the loop has one sqrt and one division.
    const float step_size = learning_rate / (1.0f - std::pow(b1, static_cast<float>(t_)));
    const float inv_sqrt_c2 = 1.0f / std::sqrt(1.0f - std::pow(b2, static_cast<float>(t_)));
    const float decay = 1.0f - learning_rate * settings_.weight_decay;
    if (!quiet_rows_known_) find_quiet_rows();
    const bool skip_quiet = decay == 1.0f;
    for (size_t p = 0; p < parameters_.size(); ++p) {
        float* w = static_cast<float*>(parameters_[p]->data);
        const float* g = static_cast<const float*>(gradients[p]->data);
        float* m = m_[p].data();
        float* v = v_[p].data();
        uint8_t* quiet = quiet_rows_[p].data();
        const int64_t n = static_cast<int64_t>(m_[p].size());
        const int64_t width = parameters_[p]->ne[0];
        const int64_t n_rows = n / width;
#pragma omp parallel for num_threads(n_threads_) schedule(static) if (n > (1 << 16))
        for (int64_t r = 0; r < n_rows; ++r) {
            const int64_t begin = r * width, end = begin + width;
            if (quiet[r]) {
                if (skip_quiet && all_zero(g + begin, width)) continue;
                quiet[r] = 0;
            }
#pragma omp simd
            for (int64_t i = begin; i < end; ++i) {
                const float grad = g[i] * scale;
                m[i] = b1 * m[i] + (1.0f - b1) * grad;
                v[i] = b2 * v[i] + (1.0f - b2) * grad * grad;
                w[i] = w[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
            }
        }
    }
    outcome.applied = true;
    return outcome;
}

}  // namespace mimir
