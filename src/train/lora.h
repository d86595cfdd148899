// LoRA adapter tensors in llama.cpp's format: for a base weight W [n_in, n_out] (ggml order), A is
// "<W name>.lora_a" [n_in, r] and B is "<W name>.lora_b" [r, n_out]; the layer computes
// W x + (alpha / r) * B (A x). Trained tensors live in host memory (F32).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/llama_handles.h"
#include "support/result.h"
#include "train/base_model.h"

namespace mimir {

struct LoraPair {
    ggml_tensor* a = nullptr;  // [n_in, r]
    ggml_tensor* b = nullptr;  // [r, n_out]
};

class LoraAdapter {
  public:
    int rank = 0;
    float alpha = 0.0f;
    std::string architecture;                 // of the base model, written to general.architecture
    std::map<std::string, LoraPair> by_base;  // keyed by base tensor name, e.g. "blk.0.attn_qkv.weight"
    GgmlContextHandle tensors;

    float scale() const { return alpha / static_cast<float>(rank); }
    const LoraPair* find(const ggml_tensor* base) const;
    // A and B of every target in a fixed order (sorted by name): the order of optimizer state on disk.
    std::vector<ggml_tensor*> parameters() const;
};

// Which base tensors get LoRA. `names` are short kinds ("attn_qkv", "attn_q", "attn_k", "attn_v",
// "attn_output", "ffn_gate", "ffn_up", "ffn_down", "output"); "all" means every attention and MLP
// projection the architecture has. Fails ("bad_targets") for an unknown kind or one the model lacks.
Result<std::vector<ggml_tensor*>> select_lora_targets(const BaseModel& model,
                                                      const std::vector<std::string>& names);

// New adapter: A uniform in +-1/sqrt(n_in) from `seed`, B zero (so training starts at the base model).
// Fails ("bad_rank") for rank < 1.
Result<std::unique_ptr<LoraAdapter>> create_lora(const BaseModel& model,
                                                 const std::vector<ggml_tensor*>& targets, int rank,
                                                 float alpha, uint64_t seed);

// Writes `adapter` as a GGUF llama.cpp loads with llama_adapter_lora_init, atomically (temp + rename).
Status save_lora(const LoraAdapter& adapter, const std::string& path);

// Reads an adapter written by save_lora (or llama.cpp's converter) and checks it fits `model`.
// Errors: "not_found", "not_a_file", "not_gguf", "not_an_adapter", "adapter_mismatch".
Result<std::unique_ptr<LoraAdapter>> load_lora(const std::string& path, const BaseModel& model);

}  // namespace mimir
