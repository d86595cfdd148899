// `mimir train`: LoRA (or full) supervised fine-tuning of a phi3 / llama GGUF on the Mimir CSV data set.
// Reads the rows, renders them with the base model's chat template, trains with loss on the replies,
// evaluates after every epoch, and writes adapter.gguf, fine-tuned.gguf, train_log.csv, eval_log.csv,
// loss.svg (and checkpoint.gguf when asked) into the output folder.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir {

// Every setting of a run; defaults are the command line's defaults (the original Python run's batch 1,
// accumulation 8, warmup 0.1, 5 epochs, with a LoRA learning rate).
struct TrainOptions {
    std::string data_path;
    std::string base_path;
    std::string out_dir;
    int batch_size = 1;         // sequences per micro-step (each is its own forward/backward)
    int grad_accumulation = 8;  // micro-steps per optimizer step
    int epochs = 5;
    float learning_rate = 2e-4f;
    float warmup_ratio = 0.1f;
    std::string schedule = "cosine";  // cosine | linear | constant
    float weight_decay = 0.0f;
    float max_grad_norm = 1.0f;
    int rank = 8;
    float alpha = 16.0f;
    std::vector<std::string> targets = {"all"};
    bool full = false;  // train every base weight instead of LoRA (F32 base only)
    double eval_fraction = 0.25;
    uint64_t seed = 42;
    int n_ctx = 512;
    int n_threads = 0;  // 0 = all cores
    // Gradient checkpointing (TrainingGraph::set_recompute_layers): "all" layers, "none", or how many of
    // the lowest layers to recompute (a trade between memory and speed).
    std::string recompute = "all";
    int checkpoint_every = 0;  // optimizer steps; 0 = no checkpoints
    bool resume = false;
    int patience = 0;     // epochs without eval improvement before stopping; 0 = never
    bool strict = false;  // stop at the first bad row instead of skipping it
    std::string system_prompt;
    bool write_merged = true;  // also write fine-tuned.gguf
    std::string merged_type;   // "" = the base's types; f16 | q8_0 | q4_k_m
    bool quiet = false;        // no per-step lines (benchmarks, tests)
    int stop_after_steps = 0;  // tests: return right after this step's checkpoint, as if killed
    // Called after every optimizer step with (step, total steps, 1-based epoch): progress for callers
    // that show it elsewhere than the terminal (the demo builder).
    std::function<void(int step, int total_steps, int epoch)> on_step;
};

struct TrainSummary {
    int steps = 0;
    int epochs_done = 0;
    int skipped_steps = 0;
    int spikes = 0;
    int train_rows = 0, eval_rows = 0, skipped_rows = 0;
    float last_loss = 0;
    float best_eval_loss = -1;
    int best_epoch = 0;
    bool stopped_early = false;
    bool interrupted = false;  // stop_after_steps reached
    double tokens_per_s = 0;   // trained tokens per second over the whole run
};

// Errors name the flag, file or row: "bad_option", "bad_output_dir", data errors ("wrong_columns",
// "empty_csv", "no_rows", "row_too_long" with --strict, ...), model errors ("not_gguf", ...),
// "write_failed".
Result<TrainSummary> run_training(const TrainOptions& options);

// The layer count --recompute means for a model with `n_layer` layers; fails ("bad_option") for anything
// but "all", "none" or a non-negative integer.
Result<int> recompute_layer_count(const std::string& recompute, int64_t n_layer);

}  // namespace mimir
