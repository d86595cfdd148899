// The base model's weights as ggml tensors, read straight from the GGUF file (not through llama_model,
// which keeps its tensors private), so the training graph can use them and take their gradients.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/llama_handles.h"
#include "support/result.h"

namespace mimir {

// The hyperparameters the training graph needs, read from "<arch>.*" keys.
struct ModelShape {
    std::string arch;  // "phi3" or "llama"
    int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx_train = 0;
    int64_t n_rot = 0;  // rope dimensions; n_embd / n_head unless the file says otherwise
    float rms_eps = 1e-5f;
    float rope_freq_base = 10000.0f;
    int rope_mode = 0;  // GGML_ROPE_TYPE_NEOX for phi3, 0 (normal) for llama, as llama.cpp does
    int64_t head_dim() const { return n_embd / n_head; }
    int64_t n_embd_kv() const { return head_dim() * n_head_kv; }
};

// One transformer block. Phi-3 has attn_qkv and a fused ffn_up ([n_embd, 2*n_ff], gate then up);
// llama has attn_q/k/v and ffn_gate + ffn_up. Unused members are null.
struct BlockWeights {
    ggml_tensor* attn_norm = nullptr;
    ggml_tensor* attn_qkv = nullptr;
    ggml_tensor* attn_q = nullptr;
    ggml_tensor* attn_k = nullptr;
    ggml_tensor* attn_v = nullptr;
    ggml_tensor* attn_output = nullptr;
    ggml_tensor* ffn_norm = nullptr;
    ggml_tensor* ffn_gate = nullptr;
    ggml_tensor* ffn_up = nullptr;
    ggml_tensor* ffn_down = nullptr;
};

// All weights, loaded into host memory by gguf (ggml context with data). The gguf context stays alive
// for its key/values, which merge copies into the fine-tuned file.
struct BaseModel {
    std::string path;
    ModelShape shape;
    ggml_tensor* token_embd = nullptr;
    ggml_tensor* output_norm = nullptr;
    ggml_tensor* output = nullptr;  // token_embd when the file has no separate output tensor
    std::vector<BlockWeights> blocks;
    GgufHandle gguf;
    GgmlContextHandle weights;

    // The tensor named `name` (GGUF name, e.g. "blk.0.attn_qkv.weight"), or null.
    ggml_tensor* find(const std::string& name) const;
    // Every 2-D projection weight LoRA may target, in file order.
    std::vector<ggml_tensor*> projection_weights() const;
};

// Reads `path`. Errors: "not_found", "not_a_file", "not_gguf" (not a readable GGUF),
// "unsupported_architecture" (not phi3/llama), "missing_tensor" / "bad_shape" (naming the tensor).
Result<std::unique_ptr<BaseModel>> load_base_model(const std::string& path);

}  // namespace mimir
