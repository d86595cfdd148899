// `mimir demo`: builds the demo's three models from the fine-tuning CSV alone, on the CPU, and caches them.
// (1) base.gguf: a tiny Phi-3 trained from scratch (all weights) on the prompts and the *bad* replies (the
// "Model Response" column), so it answers in the original model's flowery style; (2) adapter.gguf: a LoRA
// adapter trained on the ideal replies on top of that base; (3) fine-tuned.gguf: base and adapter merged.
// Every conversation is rendered with the tutor system prompt, as the server renders it.
//
// Outputs live in <cache>/<key>/ where the key hashes the CSV bytes, the recipe, the system prompt and
// kDemoCodeVersion; a `complete` marker is written last, and a folder that has it is reused as is.
// <cache>/current is a symlink to the key folder of the latest build (switched when a build starts, so a
// server pointed at <cache>/current/ sees each file appear; every file is written to a temp name and
// renamed, so no reader sees half a model).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir {

// Bump when a change to the builder or the trainer makes old cached models wrong.
inline constexpr int kDemoCodeVersion = 3;

// How the three models are made. `standard()` is what `mimir demo` runs; `quick()` is a much shorter run
// for tests (its models learn little).
struct DemoRecipe {
    // Shape of the from-scratch base (the Phi-3 vocabulary is fixed, so embeddings dominate its size).
    int n_layer = 2;
    int n_embd = 128;
    int n_head = 4;
    int n_ff = 256;
    int n_ctx = 400;  // training context: must cover the longest rendered row, system prompt included
    uint32_t seed = 42;

    // Both trainings are AdamW with gradient clipping; at higher peak rates the base and the adapter stall
    // far from memorising the rows (the loss plateaus in noise until the decay ends), see the README.
    int base_epochs = 24;
    float base_learning_rate = 2e-3f;
    int base_grad_accumulation = 2;

    int adapter_epochs = 40;
    float adapter_learning_rate = 2e-3f;
    int adapter_grad_accumulation = 2;
    // Rank 64 (scale alpha / rank = 1) memorises the ideal replies in fewer epochs than rank 16, so sampled
    // replies stay on them too.
    int rank = 64;
    float alpha = 64;
    std::vector<std::string> targets = {"all", "output"};

    static DemoRecipe standard();
    static DemoRecipe quick();
    // Every field as text: part of the cache key.
    std::string fingerprint() const;
};

enum class DemoStage { base, adapter, fine_tuned, done };
const char* to_string(DemoStage stage);

// Where a build is: `epoch` of `epochs` in `stage`, `fraction` of the whole build (all stages) done.
struct DemoProgress {
    DemoStage stage = DemoStage::base;
    int epoch = 0;
    int epochs = 0;
    double fraction = 0;
};

struct DemoOptions {
    std::string data_path;
    std::string cache_dir;
    DemoRecipe recipe = DemoRecipe::standard();
    std::string system_prompt;  // the tutor prompt the server uses; part of the key
    int n_threads = 0;          // 0 = all cores
    std::function<void(const DemoProgress&)> on_progress;
    // Set from another thread (a server shutting down) to stop after the current training step; the build
    // then fails with "stopped" and resumes from its finished stages next time.
    const std::atomic<bool>* stop = nullptr;
};

struct DemoModels {
    std::string key;
    std::string dir;  // <cache>/<key>
    std::string base_path, adapter_path, fine_tuned_path;
    bool reused = false;  // true when a complete cached build was found and nothing was trained
};

// ~/.cache/mimir/demo ($HOME from the environment; "./.cache/mimir/demo" without one).
std::string default_demo_cache_dir();

// Where a server finds the latest build's models: <cache>/current/{fine-tuned,adapter,base}.gguf (files that
// do not exist yet make their tiers fail with "not_found", so the fallback serves what is ready).
struct DemoServePaths {
    std::string fine_tuned, adapter, base;
};
DemoServePaths demo_serve_paths(const std::string& cache_dir);

// The cache key for this CSV content and these options (hex, 16 digits).
std::string demo_cache_key(const std::string& csv_bytes, const DemoOptions& options);

// Builds (or reuses) the three models. Errors: data errors from reading the CSV ("wrong_columns",
// "no_rows", ...), "bad_output_dir" for a cache that cannot be written, "write_failed", training errors,
// "stopped" (DemoOptions::stop).
Result<DemoModels> build_demo_models(const DemoOptions& options);

}  // namespace mimir
