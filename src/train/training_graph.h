// The training forward pass built on ggml: the same math as llama.cpp's phi3 / llama inference graphs,
// but causal attention runs over the whole sequence without a KV cache, so every projection (K and V
// included) gets its gradient. LoRA (alpha/r * B A x) is added to every targeted projection. Loss is
// cross-entropy on the reply tokens only: their hidden states are gathered (ggml_get_rows) before the
// output projection, so prompt positions cost no vocabulary-sized work and carry no label.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/llama_handles.h"
#include "support/result.h"
#include "train/base_model.h"
#include "train/lora.h"
#include "train/projection_kernels.h"

namespace mimir {

// A tokenized chat: the model learns tokens[n_prompt .. end) from everything before each of them.
struct TokenSequence {
    std::vector<int32_t> tokens;
    int32_t n_prompt = 0;
    // Optional explicit labels: labels[i] is what position i must predict (default tokens[i + 1]). Only
    // reply positions (i >= n_prompt - 1) are read: prompt labels are masked out by construction.
    std::vector<int32_t> labels;
    int n_targets() const { return static_cast<int>(tokens.size()) - n_prompt; }
    int32_t label_at(size_t i) const { return labels.empty() ? tokens[i + 1] : labels[i]; }
};

// Runs forward and backward passes on the CPU backend. `parameters` are the tensors being trained (LoRA
// A/B, or base weights for full fine-tuning): they are marked with ggml_set_param and each gets an F32
// gradient accumulator that backward passes add into until zero_gradients().
// A graph whose activations do not fit in memory is the user's --ctx / --recompute choice, not a bug: the
// passes below then fail with "out_of_memory", naming those flags. Exceptions are for bugs only.
// Token ids whose row of the output projection (or of a LoRA adapter's B on it) has a non-zero entry: the
// rows that can give a logit other than 0. Every row when the head is tied to the embeddings or is stored
// quantized (nothing to gain there).
std::vector<int32_t> output_rows_in_use(const BaseModel& model, const LoraAdapter* lora);

class TrainingGraph {
  public:
    TrainingGraph(const BaseModel& model, const LoraAdapter* lora, std::vector<ggml_tensor*> parameters,
                  int n_threads);
    TrainingGraph(const TrainingGraph&) = delete;
    TrainingGraph& operator=(const TrainingGraph&) = delete;

    // Logits of every position, row-major [n_tokens][n_vocab] (for checks against llama.cpp).
    Result<std::vector<float>> logits(const std::vector<int32_t>& tokens);
    // Mean cross-entropy over the reply tokens, forward only.
    Result<float> loss(const TokenSequence& sequence);
    // Forward + backward; the gradients of this sequence's mean reply loss are added to the accumulators.
    Result<float> accumulate_gradients(const TokenSequence& sequence);
    // Gradient checkpointing: accumulate_gradients keeps only the inputs of the lowest `n_layers` layers
    // between the forward and the backward pass and recomputes those layers one at a time; the layers above
    // keep their activations. Same gradients; each recomputed layer costs one more layer forward and saves
    // its activations (Phi-3-mini, 512 tokens: ~137 MiB each). 0 = none (the default), >= n_layer = all.
    void set_recompute_layers(int n_layers) { recompute_layers_ = n_layers; }
    // A graph whose compute buffer would exceed `bytes` fails with "out_of_memory" before it is allocated,
    // as an allocation failure does (0 = no limit, the default): makes that path testable.
    void set_memory_limit(size_t bytes) { memory_limit_bytes_ = bytes; }
    // The kernels of the frozen weights' products (train/projection_kernels.h), available here (resolve
    // first). Default: the best F32 path. Weights being trained always use the best F32 path.
    void set_kernel_path(KernelPath path) { kernel_path_ = path; }
    KernelPath kernel_path() const { return kernel_path_; }

    // Restricts the loss's softmax to the output rows `vocabulary` (token ids, every label among them),
    // plus one term that stands for all the other rows. Those must be zero in the weights and in any
    // adapter's B; they are held there (no gradient reaches them). Their logits are exactly 0, so the loss
    // and every other gradient equal the full vocabulary's while the head costs vocabulary.size() / n_vocab
    // of its price.
    // A model trained from scratch on a small data set (the demo's) has that shape; see
    // output_rows_in_use. Empty = the whole vocabulary (the default).
    void set_head_vocabulary(std::vector<int32_t> vocabulary);
    // Rows the loss's head computes: n_vocab without a restriction.
    int64_t head_vocabulary_size() const {
        return head_vocabulary_.empty() ? model_.shape.n_vocab
                                        : static_cast<int64_t>(head_vocabulary_.size());
    }

    void zero_gradients();
    // Bytes of the compute buffer (activations kept for backward + transients) the largest graph so far
    // needed: the part of training memory that grows with sequence length and layer count.
    size_t compute_buffer_bytes() const;
    const std::vector<ggml_tensor*>& parameters() const { return parameters_; }
    // The accumulated gradient of `parameters()[i]` (same shape, F32).
    ggml_tensor* gradient(size_t i) const { return gradients_[i]; }
    const std::vector<ggml_tensor*>& gradients() const { return gradients_; }

  private:
    struct Built;
    Built begin(const TokenSequence& sequence, bool with_tokens);
    ggml_tensor* add_head(Built& b, const TokenSequence& sequence, ggml_tensor* hidden, bool all_logits);
    // Builds b.graph up to `result`; with `backward`, `result` is the loss and the backward pass is added,
    // each (tensor, accumulator) pair receiving that tensor's gradient.
    void finish(Built& b, ggml_tensor* result, bool backward,
                const std::vector<std::pair<ggml_tensor*, ggml_tensor*>>& extra_accumulators = {});
    void use_projections(ggml_context* ctx, ggml_cgraph* graph) const;
    Status allocate(Built& built, size_t n_tokens);
    Status compute(Built& built, const TokenSequence& sequence);
    void fill_labels(Built& built, const TokenSequence& sequence, int64_t first) const;
    Result<float> accumulate_recomputing(const TokenSequence& sequence);

    const BaseModel& model_;
    const LoraAdapter* lora_;
    std::vector<ggml_tensor*> parameters_;
    std::vector<ggml_tensor*> gradients_;
    int recompute_layers_ = 0;
    // set_head_vocabulary: the ids, each token's index among them (-1 when left out), and log(number of
    // rows left out).
    std::vector<int32_t> head_vocabulary_;
    std::vector<int32_t> head_index_;
    float left_out_log_count_ = 0;
    size_t memory_limit_bytes_ = 0;
    ggml_tensor* loss_seed_ = nullptr;  // d(loss)/d(loss) = 1, the backward pass's starting point
    // Weights whose products W x and W^T g run through Mimir's own ops (see projection_ops.h): frozen ones
    // with kernel_path_, trained ones (full fine-tuning) with the best F32 path.
    std::vector<const ggml_tensor*> frozen_projections_, trained_projections_;
    KernelPath kernel_path_ = best_f32_kernel_path();
    GgmlContextHandle gradient_ctx_;
    GgmlBackendHandle backend_;
    GgmlGallocrHandle allocator_;
    std::vector<uint8_t> compute_meta_;  // tensor/graph headers of the graph being built
};

}  // namespace mimir
