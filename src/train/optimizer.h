// AdamW with decoupled weight decay, global gradient-norm clipping and a warmup + cosine/linear learning
// rate schedule. Runs on the host over the trained tensors (LoRA matrices are small), which is what lets
// it clip, skip non-finite steps and save its moments for an exact resume: ggml-opt's fused in-graph
// AdamW step can do none of these (its moments and step count are private).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/llama_handles.h"
#include "support/result.h"

namespace mimir {

// How the learning rate decays after warmup (--schedule).
enum class Schedule { Cosine, Linear, Constant };
const char* schedule_name(Schedule schedule);  // "cosine", "linear", "constant"
// Flag value -> schedule, for parsing --schedule.
const std::map<std::string, Schedule>& schedules_by_name();

struct OptimizerSettings {
    float learning_rate = 2e-4f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float epsilon = 1e-8f;
    float weight_decay = 0.0f;
    float max_grad_norm = 1.0f;  // 0 = no clipping
    float warmup_ratio = 0.1f;
    Schedule schedule = Schedule::Cosine;
};

// Learning rate for optimizer step `step` (0-based) of `total_steps`: linear warmup over
// ceil(warmup_ratio * total) steps, then decay to 0 at the end (cosine or linear).
float learning_rate_at(const OptimizerSettings& settings, int step, int total_steps);

struct StepOutcome {
    float grad_norm = 0.0f;  // before clipping, of the averaged gradient
    bool applied = false;    // false when the gradient was not finite (step skipped)
};

class AdamW {
  public:
    // Large tensors are updated on `n_threads` threads (full fine-tuning touches every weight).
    AdamW(std::vector<ggml_tensor*> parameters, OptimizerSettings settings, int n_threads = 1);

    // One update from gradients summed over `n_summed` sequences (averaged here). Parameters are left
    // untouched when the norm is not finite.
    StepOutcome step(const std::vector<ggml_tensor*>& gradients, int n_summed, float learning_rate);

    int64_t steps_taken() const { return t_; }
    // Moments in parameter order, for checkpoints (a caller may overwrite them).
    std::vector<std::vector<float>>& first_moments() {
        quiet_rows_known_ = false;
        return m_;
    }
    std::vector<std::vector<float>>& second_moments() {
        quiet_rows_known_ = false;
        return v_;
    }
    void set_steps_taken(int64_t t) { t_ = t; }

  private:
    std::vector<ggml_tensor*> parameters_;
    OptimizerSettings settings_;
    std::vector<std::vector<float>> m_, v_;
    int n_threads_ = 1;
    int64_t t_ = 0;
    // Per parameter, per row (ne[0] elements): 1 while the row's moments are all zero. Such a row with a
    // zero gradient would not change (without weight decay), so the step skips it: a model trained from
    // scratch on a small data set has most of its embedding and head rows in that state.
    std::vector<std::vector<uint8_t>> quiet_rows_;
    bool quiet_rows_known_ = false;
    void find_quiet_rows();
};

}  // namespace mimir
