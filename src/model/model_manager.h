// The three-tier fallback at the heart of Mimir: fine-tuned GGUF -> base GGUF + LoRA adapter -> base GGUF
// alone -> error. Every failed tier is recorded with its reason; nothing a file contains can abort the
// process (files are validated by inspect_gguf before llama.cpp sees them).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf_inspect.h"
#include "model/llama_handles.h"
#include "support/result.h"

namespace mimir {

// Where the three tiers come from. Empty path = tier not configured.
struct ModelPaths {
    std::string fine_tuned;
    std::string adapter;
    std::string base;

    // MIMIR_FINE_TUNED, MIMIR_ADAPTER, MIMIR_BASE; a flag value given on the command line wins.
    static ModelPaths from_environment();
    ModelPaths overridden_by(const ModelPaths& flags) const;
};

// How llama.cpp should load weights.
struct LoadOptions {
    bool use_mmap = true;
    // llama.cpp's repacked CPU buffers (weights re-laid-out for the CPU's SIMD kernels at load, as in
    // llama-bench and llama-server by default): faster quantized matrix products. scripts/llama.sh builds
    // llama.cpp without AMX, whose kernels segfault on Q4_K/Q8_0 weights on this machine's CPUs.
    // Training loads its base weights itself, in plain buffers.
    bool use_extra_buffer_types = true;
    // A model file larger than this is refused as "out_of_memory" without trying; 0 = MemAvailable.
    uint64_t memory_limit_bytes = 0;
};

enum class Tier { FineTuned, Adapter, Base };
const char* tier_name(Tier tier);  // "fine-tuned", "adapter", "base"

// One attempt at one tier: how long it took and, when it failed, why.
struct TierAttempt {
    Tier tier;
    std::string path;  // the file this tier tried (the adapter file for Tier::Adapter)
    bool ok = false;
    Error error;  // code: one of kModelLoadErrorCodes
    double load_ms = 0;
};

// Every code a failed tier reports (TierAttempt::error): for checks that each has a documented meaning.
// "checksum_mismatch": the file differs from the SHA-256 the manifest beside it records
// (model/file_manifest.h).
inline constexpr std::array<std::string_view, 11> kModelLoadErrorCodes = {
    "not_configured", "not_found",          "not_gguf",         "truncated",
    "corrupt",        "wrong_architecture", "vocab_mismatch",   "adapter_mismatch",
    "out_of_memory",  "load_failed",        "checksum_mismatch"};

// A model that loaded, with the adapter (if any) that belongs to it. Shared so that a reload can swap in a
// new model while streams on the old one finish; the last owner frees it.
struct LoadedModel {
    ModelHandle model;
    AdapterHandle adapter;  // set only for Tier::Adapter
    float adapter_scale = 1.0f;
    Tier tier = Tier::Base;
    GgufSummary summary;      // of the file whose weights are in use (fine-tuned or base)
    std::string file_sha256;  // of the serving file: the fine-tuned or base GGUF, or the adapter GGUF
    // The tokenizer. Equal to the base's in every tier: the chain refuses a fine-tune whose vocab hash
    // differs from the base's, and the adapter tier runs on the base itself.
    const llama_vocab* vocab() const { return llama_model_get_vocab(model.get()); }
};

enum class ModelStatus { Loading, Loaded, Error };
const char* model_status_name(ModelStatus status);  // "loading", "loaded", "error"

// get_model_info(): the seed's fields plus Mimir's diagnostics. serve/ turns it into the API's JSON.
struct ModelInfo {
    ModelStatus status = ModelStatus::Loading;
    std::optional<Tier> tier;  // the tier that serves; empty while nothing is loaded
    std::string fine_tuned_path, adapter_path, base_model_path;
    std::vector<TierAttempt> attempts;  // in the order tried
    std::string error;                  // summary when status == Error
    uint64_t model_size_bytes = 0;
    uint64_t n_params = 0;
    std::string architecture, quantization;
    uint64_t resident_memory_bytes = 0;  // RSS of this process after the load
    // SHA-256 (hex) of the file that serves (the fine-tuned GGUF, or the adapter GGUF for the adapter tier):
    // what feedback rows and promotion records name. Empty until the loader computes it.
    std::string file_sha256;

    bool is_adapter() const { return tier == Tier::Adapter; }
    bool using_fallback() const { return tier == Tier::Base; }  // the base model alone serves
    // The seed's model_type: "fine-tuned", "adapter", "base", or "" while nothing is loaded.
    std::string model_type() const { return tier ? tier_name(*tier) : ""; }
};

// Counters for the performance log; the server exposes them as Prometheus metrics.
struct LoadCounters {
    std::map<std::string, uint64_t> attempts_by_tier;  // keyed by tier_name
    std::map<std::string, uint64_t> failures_by_tier;
    std::map<std::string, uint64_t> wins_by_tier;
    std::map<std::string, double> last_load_ms_by_tier;
    uint64_t fallback_activations = 0;  // loads that ended on the base tier
    uint64_t total_errors = 0;          // loads that ended with nothing
};

// Loads models through the fallback chain. Thread-safe: load_with_fallback may run while other threads
// call current() and info(); they see the old model until the new one is ready.
class ModelManager {
  public:
    explicit ModelManager(ModelPaths paths, LoadOptions options = {});

    // Runs the chain once, replaces the current model, logs one line per attempt and returns the info.
    // Each path is resolved through symlinks once at the start, so a folder switched meanwhile (a promotion
    // swapping DIR/current) is read whole from one side of the switch. Every file a tier loads is hashed
    // (SHA-256, on another thread while llama.cpp reads it); one listed in a manifest.json beside it must
    // match its record or the tier fails with "checksum_mismatch".
    // Tiers that were not tried (after the winner) are not in info.attempts. A fine-tuned model is checked
    // against the base's vocabulary only when a base is configured and valid. When nothing loads,
    // current() becomes nullptr: the info says "error" and nothing serves under it.
    ModelInfo load_with_fallback();

    // The model now serving, or nullptr when no tier loaded.
    std::shared_ptr<const LoadedModel> current() const;
    ModelInfo get_model_info() const;
    LoadCounters counters() const;
    const ModelPaths& paths() const { return paths_; }

  private:
    ModelPaths paths_;
    LoadOptions options_;
    std::mutex load_mutex_;     // one chain run at a time
    mutable std::mutex mutex_;  // guards the three below
    std::shared_ptr<const LoadedModel> current_;
    ModelInfo info_;
    LoadCounters counters_;
};

// Resident set size of this process in bytes (from /proc/self/statm); 0 when unknown.
uint64_t resident_memory_bytes();
// Peak resident set size (VmHWM) in bytes; 0 when unknown.
uint64_t peak_resident_memory_bytes();

}  // namespace mimir
