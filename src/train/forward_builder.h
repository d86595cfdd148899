// The training forward pass as ggml ops: the same math as llama.cpp's phi3 / llama inference graphs, with
// causal attention over the whole sequence (no KV cache) so every projection gets its gradient, and LoRA
// (alpha/r * B A x) added to every projection the adapter targets. Used by TrainingGraph, whole or one
// layer at a time.
#pragma once

#include "model/llama_handles.h"
#include "train/base_model.h"
#include "train/lora.h"

namespace mimir {

// Builds ops into `ctx`; knows the model and the adapter, nothing about training.
class ForwardBuilder {
  public:
    ForwardBuilder(ggml_context* ctx, const BaseModel& model, const LoraAdapter* lora)
        : ctx_(ctx), model_(model), shape_(model.shape), lora_(lora) {}

    // Token embeddings [n_embd, n_tokens].
    ggml_tensor* embed(ggml_tensor* tokens);
    // Transformer block `block` applied to hidden states `x` [n_embd, n_tokens].
    ggml_tensor* layer(const BlockWeights& block, ggml_tensor* x, ggml_tensor* positions);
    // Every block after the embeddings: hidden states after the last one.
    ggml_tensor* blocks(ggml_tensor* tokens, ggml_tensor* positions);
    // Logits [n_vocab, n] for the hidden states `rows` [n_embd, n].
    ggml_tensor* head(ggml_tensor* rows);
    // Logits of the vocabulary entries `vocabulary` (I32 token ids) only: [n_ids, n].
    ggml_tensor* head_for(ggml_tensor* rows, ggml_tensor* vocabulary);

  private:
    ggml_tensor* norm(ggml_tensor* x, ggml_tensor* weight);
    ggml_tensor* project(ggml_tensor* weight, ggml_tensor* x);
    ggml_tensor* heads(ggml_tensor* fused, int64_t first_row, int64_t n_heads);
    ggml_tensor* rope(ggml_tensor* x, ggml_tensor* positions);
    ggml_tensor* attention(const BlockWeights& block, ggml_tensor* x, ggml_tensor* positions);
    ggml_tensor* feed_forward(const BlockWeights& block, ggml_tensor* x);

    ggml_context* ctx_;
    const BaseModel& model_;
    const ModelShape& shape_;
    const LoraAdapter* lora_;
};

}  // namespace mimir
