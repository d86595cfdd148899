// A resumable snapshot of a training run (DIR/checkpoint.gguf): the trained tensors, AdamW's moments
// and step count, where in which epoch the run is, early-stopping state and the logs so far. Written
// atomically, so a kill at any moment leaves either the previous or the new checkpoint.
#pragma once

#include <string>
#include <vector>

#include "model/llama_handles.h"
#include "support/result.h"
#include "train/training_log.h"

namespace mimir {

struct TrainingState {
    int step = 0;           // optimizer steps done
    int epoch = 0;          // 0-based epoch in progress
    int next_sequence = 0;  // index into the epoch's shuffled order; == n_train: only eval is left
    int64_t adam_steps = 0;
    float best_eval_loss = -1;  // < 0: no evaluation yet
    int best_epoch = 0;
    int epochs_without_improvement = 0;
    int skipped_steps = 0;
    std::vector<float> recent_losses;                 // for spike detection
    std::vector<std::vector<float>> best_parameters;  // values at the best evaluation (early stopping)
    TrainingLog log;
};

// `parameters` are saved under their names; `first_moments` / `second_moments` in the same order.
Status save_checkpoint(const std::string& path, const TrainingState& state,
                       const std::vector<ggml_tensor*>& parameters,
                       const std::vector<std::vector<float>>& first_moments,
                       const std::vector<std::vector<float>>& second_moments);

// Restores into the given tensors and moment vectors (shapes must match: "checkpoint_mismatch").
Result<TrainingState> load_checkpoint(const std::string& path, const std::vector<ggml_tensor*>& parameters,
                                      std::vector<std::vector<float>>& first_moments,
                                      std::vector<std::vector<float>>& second_moments);

}  // namespace mimir
