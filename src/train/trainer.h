// `mimir train`: LoRA (or full) supervised fine-tuning of a phi3 / llama GGUF on the Mimir CSV data set.
// Reads the rows, renders them with the base model's chat template and the system prompt serving uses,
// trains with loss on the replies, evaluates after every epoch, and writes the run's files (RunFolder:
// adapter, fine-tuned model, logs, loss plot, system prompt, checkpoint when asked) into the output folder.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/tutor_prompt.h"
#include "support/result.h"
#include "train/merge.h"
#include "train/optimizer.h"
#include "train/projection_kernels.h"
#include "train/run_folder.h"

namespace mimir {

// --recompute: which layers gradient checkpointing recomputes in the backward pass instead of keeping
// their activations (TrainingGraph::set_recompute_layers): all of them, none, or the lowest `layers`.
// A trade between memory and speed.
struct Recompute {
    enum class Mode { All, None, Lowest };
    Mode mode = Mode::All;
    int layers = 0;  // Mode::Lowest

    // The layer count this means for a model with `n_layer` layers.
    int layer_count(int64_t n_layer) const;
    // As the flag spells it: "all", "none" or the number.
    std::string name() const;
};

// Parses a --recompute value: "all", "none" or a non-negative number of layers; "bad_option" otherwise.
Result<Recompute> parse_recompute(const std::string& text);

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
    Schedule schedule = Schedule::Cosine;
    float weight_decay = 0.0f;
    float max_grad_norm = 1.0f;
    int rank = 8;
    float alpha = 16.0f;
    std::vector<std::string> targets = {"all"};
    bool full = false;  // train every base weight instead of LoRA (F32 base only)
    // With `full`, on a model made from scratch: first zero the output rows of every token that appears in
    // no cell of the data (prompts, model responses, ideal responses). Those tokens keep a logit of exactly
    // 0, and the loss then needs only the rows in use (TrainingGraph::set_head_vocabulary): training a tiny
    // model with a 32k vocabulary on a small data set gets several times faster, with the same math.
    bool zero_unused_output_rows = false;
    double eval_fraction = 0.25;
    uint64_t seed = 42;
    int n_ctx = 512;
    int n_threads = 0;  // 0 = all cores
    Recompute recompute;
    // Kernels of the frozen weights' products (--kernels, MIMIR_KERNELS): Auto = the best this CPU runs.
    KernelPath kernels = KernelPath::Auto;
    int checkpoint_every = 0;  // optimizer steps; 0 = no checkpoints
    bool resume = false;
    int patience = 0;     // epochs without eval improvement before stopping; 0 = never
    bool strict = false;  // stop at the first bad row instead of skipping it
    // Rendered as the system turn of every row: the one `mimir serve` sends by default, so the model is
    // trained on what it will see. Empty = no system turn.
    std::string system_prompt = default_tutor_system_prompt();
    bool write_merged = true;  // also write fine-tuned.gguf
    MergedType merged_type = MergedType::AsBase;
    bool quiet = false;             // no per-step lines (benchmarks, tests)
    int stop_after_steps = 0;       // tests: return right after this step's checkpoint, as if killed
    size_t memory_limit_bytes = 0;  // tests: TrainingGraph::set_memory_limit (0 = none)
    // Called after every optimizer step with (step, total steps, 1-based epoch): progress for callers that
    // show it elsewhere than the terminal (the demo builder). Returning false stops the run after this
    // step, as stop_after_steps does (TrainSummary::interrupted).
    std::function<bool(int step, int total_steps, int epoch)> on_step;
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
    bool interrupted = false;  // stop_after_steps reached, or on_step returned false
    double tokens_per_s = 0;   // trained tokens per second over the whole run
};

// Errors name the flag, file or row: "bad_option", "bad_output_dir", data errors ("wrong_columns",
// "empty_csv", "no_rows", "row_too_long" with --strict, ...), model errors ("not_gguf", ...),
// "write_failed", "out_of_memory" (a row's training graph does not fit: names --ctx and --recompute),
// "kernels_unavailable" (--kernels names a path this CPU or OS cannot run).
Result<TrainSummary> run_training(const TrainOptions& options);

}  // namespace mimir
