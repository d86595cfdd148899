// Writes small (or Phi-3-mini-shaped) GGUF models with random weights and the real Phi-3 tokenizer and
// chat template, so tests, the demo and the benchmarks need no downloaded weights.
#pragma once

#include <cstdint>
#include <string>

#include "support/result.h"

namespace mimir {

// Shape and storage of a generated model. Defaults give the 9.3 M-parameter test model.
struct TinyModelSpec {
    std::string arch = "phi3";  // "phi3" (fused qkv, fused gate/up) or "llama" (split tensors)
    int n_layer = 4;
    int n_embd = 128;
    int n_head = 4;
    int n_head_kv = 4;
    int n_ff = 512;
    int n_ctx = 4096;
    uint32_t seed = 42;
    std::string type = "f32";  // "f32", "f16", "q8_0", "q4_k_m"
    std::string vocab_path;    // models/ggml-vocab-phi-3.gguf of the llama.cpp source
    // When >= 0, the text of this token id is changed, so the model's vocab hash differs from every
    // unaltered model's: how tests make a fine-tuned model whose tokenizer does not match its base.
    int altered_token = -1;

    // The exact shape of Phi-3-mini-4k-instruct (32 layers, 3072 wide, ff 8192, 32 heads, vocab 32064),
    // stored as Q4_K_M (2.4 GB; about 3 minutes to write on 2 cores).
    static TinyModelSpec phi3_mini();
};

// Streams tensors to `out_path` one at a time (a Phi-3-mini-shaped Q4_K_M model never holds more than one
// tensor in memory). Writes to a temp file and renames, so a failed write never leaves a half file.
Status write_tiny_model(const TinyModelSpec& spec, const std::string& out_path);

// Storage per tensor: norms stay F32; "q4_k_m" uses Q4_K with Q6_K for output and Q5_K/Q6_K for some
// attention/ffn_down layers (llama-quantize's mix). K-quants need rows divisible by 256: a tensor whose row
// is not falls back to Q5_0 (Q4_K/Q5_K) or Q8_0 (Q6_K), and to F16 when rows are not divisible by 32.
// Weights are deterministic in `seed`: uniform-sum noise with standard deviation 0.02.

// Writes a LoRA adapter for the model at `base_path` that llama.cpp loads (general.type = adapter,
// adapter.type = lora, adapter.lora.alpha): F32 `<weight>.lora_a` [n_in, rank] and `.lora_b`
// [rank, n_out] for every attention and MLP weight. B is non-zero, so the adapter changes the output.
// For tests and the demo's "base + adapter" tier.
Status write_random_lora_adapter(const std::string& base_path, int rank, float alpha, uint32_t seed,
                                 const std::string& out_path);

// The vocab file shipped with the pinned llama.cpp source, found via MIMIR_PHI3_VOCAB or the path baked
// in at build time; empty when neither exists.
std::string default_phi3_vocab_path();

}  // namespace mimir
