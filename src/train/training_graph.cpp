#include "train/training_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "ggml-cpu.h"
#include "train/input_gradient.h"

namespace mimir {

namespace {

// Builds one forward pass into `ctx`; knows the model and the adapter, nothing about training.
class ForwardBuilder {
  public:
    ForwardBuilder(ggml_context* ctx, const BaseModel& model, const LoraAdapter* lora)
        : ctx_(ctx), model_(model), shape_(model.shape), lora_(lora) {}

    // Hidden states after the last block, [n_embd, n_tokens].
    ggml_tensor* blocks(ggml_tensor* tokens, ggml_tensor* positions) {
        ggml_tensor* x = ggml_get_rows(ctx_, model_.token_embd, tokens);
        for (const BlockWeights& block : model_.blocks) {
            x = ggml_add(ctx_, x, attention(block, norm(x, block.attn_norm), positions));
            x = ggml_add(ctx_, x, feed_forward(block, norm(x, block.ffn_norm)));
        }
        return x;
    }

    // Logits [n_vocab, n] for the hidden states `rows` [n_embd, n].
    ggml_tensor* head(ggml_tensor* rows) { return project(model_.output, norm(rows, model_.output_norm)); }

  private:
    ggml_tensor* norm(ggml_tensor* x, ggml_tensor* weight) {
        return ggml_mul(ctx_, ggml_rms_norm(ctx_, x, shape_.rms_eps), weight);
    }

    // W x, plus (alpha / r) B (A x) when the adapter targets W.
    ggml_tensor* project(ggml_tensor* weight, ggml_tensor* x) {
        ggml_tensor* out = ggml_mul_mat(ctx_, weight, x);
        const LoraPair* pair = lora_ ? lora_->find(weight) : nullptr;
        if (!pair) return out;
        ggml_tensor* low = ggml_mul_mat(ctx_, pair->b, ggml_mul_mat(ctx_, pair->a, x));
        return ggml_add(ctx_, out, ggml_scale(ctx_, low, lora_->scale()));
    }

    // Rows [first_row, first_row + n_heads * head_dim) of a fused [*, n_tokens] projection output as
    // [head_dim, n_heads, n_tokens]. Copy, then reshape: ggml's backward pass of a reshape accepts the
    // permuted gradients attention sends back (that of a copy does not).
    ggml_tensor* heads(ggml_tensor* fused, int64_t first_row, int64_t n_heads) {
        const int64_t hd = shape_.head_dim();
        const int64_t n_tokens = fused->ne[1];
        ggml_tensor* rows = ggml_view_2d(ctx_, fused, hd * n_heads, n_tokens, fused->nb[1],
                                         first_row * ggml_element_size(fused));
        return ggml_reshape_3d(ctx_, ggml_cont(ctx_, rows), hd, n_heads, n_tokens);
    }

    ggml_tensor* rope(ggml_tensor* x, ggml_tensor* positions) {
        return ggml_rope_ext(ctx_, x, positions, nullptr, static_cast<int>(shape_.n_rot), shape_.rope_mode,
                             static_cast<int>(shape_.n_ctx_train), shape_.rope_freq_base, 1.0f, 0.0f, 1.0f,
                             32.0f, 1.0f);
    }

    ggml_tensor* attention(const BlockWeights& block, ggml_tensor* x, ggml_tensor* positions) {
        const int64_t n_tokens = x->ne[1];
        ggml_tensor *q, *k, *v;
        if (block.attn_qkv) {
            ggml_tensor* qkv = project(block.attn_qkv, x);
            q = heads(qkv, 0, shape_.n_head);
            k = heads(qkv, shape_.n_embd, shape_.n_head_kv);
            v = heads(qkv, shape_.n_embd + shape_.n_embd_kv(), shape_.n_head_kv);
        } else {
            q = ggml_reshape_3d(ctx_, project(block.attn_q, x), shape_.head_dim(), shape_.n_head, n_tokens);
            k = ggml_reshape_3d(ctx_, project(block.attn_k, x), shape_.head_dim(), shape_.n_head_kv,
                                n_tokens);
            v = ggml_reshape_3d(ctx_, project(block.attn_v, x), shape_.head_dim(), shape_.n_head_kv,
                                n_tokens);
        }
        q = ggml_cont(ctx_, ggml_permute(ctx_, rope(q, positions), 0, 2, 1, 3));      // [hd, T, H]
        k = ggml_cont(ctx_, ggml_permute(ctx_, rope(k, positions), 0, 2, 1, 3));      // [hd, T, Hkv]
        ggml_tensor* vt = ggml_cont(ctx_, ggml_permute(ctx_, v, 1, 2, 0, 3));         // [T, hd, Hkv]
        ggml_tensor* scores = ggml_diag_mask_inf(ctx_, ggml_mul_mat(ctx_, k, q), 0);  // [T_k, T_q, H]
        const float scale = 1.0f / std::sqrt(static_cast<float>(shape_.head_dim()));
        ggml_tensor* weights = ggml_soft_max_ext(ctx_, scores, nullptr, scale, 0.0f);
        ggml_tensor* mixed = ggml_mul_mat(ctx_, vt, weights);            // [hd, T_q, H]
        mixed = ggml_cont(ctx_, ggml_permute(ctx_, mixed, 0, 2, 1, 3));  // [hd, H, T]
        return project(block.attn_output, ggml_reshape_2d(ctx_, mixed, shape_.n_embd, n_tokens));
    }

    ggml_tensor* feed_forward(const BlockWeights& block, ggml_tensor* x) {
        ggml_tensor *gate, *up;
        if (block.ffn_gate) {
            gate = project(block.ffn_gate, x);
            up = project(block.ffn_up, x);
        } else {
            // Phi-3 fuses gate (first n_ff rows) and up (next n_ff rows). ggml's backward pass handles only the
            // split form of swiglu, which reads the two halves in place (no copies kept for backward).
            ggml_tensor* fused = project(block.ffn_up, x);
            const size_t half = static_cast<size_t>(shape_.n_ff) * ggml_element_size(fused);
            gate = ggml_view_2d(ctx_, fused, shape_.n_ff, fused->ne[1], fused->nb[1], 0);
            up = ggml_view_2d(ctx_, fused, shape_.n_ff, fused->ne[1], fused->nb[1], half);
        }
        // One op instead of silu then mul: backward recomputes silu(gate) rather than keeping it.
        return project(block.ffn_down, ggml_swiglu_split(ctx_, gate, up));
    }

    ggml_context* ctx_;
    const BaseModel& model_;
    const ModelShape& shape_;
    const LoraAdapter* lora_;
};

size_t graph_size_for(const BaseModel& model) {
    return 4096 + 1024 * static_cast<size_t>(model.shape.n_layer);
}

}  // namespace

struct TrainingGraph::Built {
    GgmlContextHandle ctx;
    ggml_cgraph* graph = nullptr;
    ggml_tensor* tokens = nullptr;
    ggml_tensor* positions = nullptr;
    ggml_tensor* target_rows = nullptr;  // positions whose next token is a reply token
    ggml_tensor* labels = nullptr;       // one-hot [n_vocab, n_targets]
    ggml_tensor* logits = nullptr;
    ggml_tensor* loss = nullptr;
};

TrainingGraph::TrainingGraph(const BaseModel& model, const LoraAdapter* lora,
                             std::vector<ggml_tensor*> parameters, int n_threads)
    : model_(model), lora_(lora), parameters_(std::move(parameters)) {
    size_t bytes = sizeof(float) + GGML_MEM_ALIGN;
    for (const ggml_tensor* p : parameters_) bytes += ggml_nelements(p) * sizeof(float) + GGML_MEM_ALIGN;
    gradient_ctx_.reset(
        ggml_init({(parameters_.size() + 1) * ggml_tensor_overhead() + bytes, nullptr, false}));
    for (ggml_tensor* p : parameters_) {
        if (p->type != GGML_TYPE_F32) throw std::invalid_argument("trained tensors must be F32");
        ggml_set_param(p);
        ggml_tensor* g = ggml_new_tensor(gradient_ctx_.get(), GGML_TYPE_F32, GGML_MAX_DIMS, p->ne);
        ggml_format_name(g, "grad_acc.%s", ggml_get_name(p));
        gradients_.push_back(g);
    }
    for (const ggml_tensor* w : model.projection_weights()) projections_.push_back(w);
    projections_.push_back(model.output);  // the head; token_embd when the file ties them
    loss_seed_ = ggml_new_tensor_1d(gradient_ctx_.get(), GGML_TYPE_F32, 1);
    ggml_set_f32(loss_seed_, 1.0f);
    zero_gradients();
    backend_.reset(ggml_backend_cpu_init());
    ggml_backend_cpu_set_n_threads(backend_.get(), n_threads);
    allocator_.reset(ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend_.get())));
    compute_meta_.resize(graph_size_for(model) * 4 * ggml_tensor_overhead() +
                         ggml_graph_overhead_custom(graph_size_for(model) * 4, true));
}

size_t TrainingGraph::compute_buffer_bytes() const { return ggml_gallocr_get_buffer_size(allocator_.get(), 0); }

void TrainingGraph::zero_gradients() {
    for (ggml_tensor* g : gradients_) std::memset(g->data, 0, ggml_nbytes(g));
}

TrainingGraph::Built TrainingGraph::build(const TokenSequence& sequence, bool all_logits, bool backward) {
    Built b;
    b.ctx.reset(ggml_init({compute_meta_.size(), compute_meta_.data(), true}));
    ggml_context* ctx = b.ctx.get();
    const int64_t n_tokens = static_cast<int64_t>(sequence.tokens.size());
    const int64_t n_rows = all_logits ? n_tokens : sequence.n_targets();
    b.tokens = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tokens);
    b.positions = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_tokens);
    b.target_rows = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n_rows);
    for (ggml_tensor* t : {b.tokens, b.positions, b.target_rows}) ggml_set_input(t);
    ForwardBuilder forward(ctx, model_, lora_);
    ggml_tensor* hidden = forward.blocks(b.tokens, b.positions);
    b.logits = forward.head(ggml_get_rows(ctx, hidden, b.target_rows));
    const size_t graph_size = graph_size_for(model_) * (backward ? 4 : 1);
    b.graph = ggml_new_graph_custom(ctx, graph_size, backward);
    if (all_logits) {
        ggml_set_output(b.logits);
        ggml_build_forward_expand(b.graph, b.logits);
        return b;
    }
    b.labels = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, model_.shape.n_vocab, n_rows);
    ggml_set_input(b.labels);
    b.loss = ggml_cross_entropy_loss(ctx, b.logits, b.labels);
    ggml_set_output(b.loss);
    ggml_set_loss(b.loss);
    ggml_build_forward_expand(b.graph, b.loss);
    if (backward) {
        // ggml keys gradient accumulators by forward-node index: ours for the parameters, the seed for the
        // loss.
        std::vector<ggml_tensor*> accumulators(static_cast<size_t>(ggml_graph_n_nodes(b.graph)), nullptr);
        for (int i = 0; i < ggml_graph_n_nodes(b.graph); ++i) {
            ggml_tensor* node = ggml_graph_node(b.graph, i);
            if (node == b.loss) accumulators[i] = loss_seed_;
            for (size_t p = 0; p < parameters_.size(); ++p) {
                if (node == parameters_[p]) accumulators[i] = gradients_[p];
            }
        }
        ggml_build_backward_expand(ctx, b.graph, accumulators.data());
        use_projection_input_gradients(ctx, b.graph, projections_);
    }
    return b;
}

void TrainingGraph::compute(Built& b, const TokenSequence& sequence) {
    if (!ggml_gallocr_alloc_graph(allocator_.get(), b.graph))
        throw std::runtime_error("ggml_gallocr_alloc_graph failed");
    const int64_t n_tokens = static_cast<int64_t>(sequence.tokens.size());
    std::memcpy(b.tokens->data, sequence.tokens.data(), n_tokens * sizeof(int32_t));
    auto* positions = static_cast<int32_t*>(b.positions->data);
    for (int64_t i = 0; i < n_tokens; ++i) positions[i] = static_cast<int32_t>(i);
    auto* rows = static_cast<int32_t*>(b.target_rows->data);
    const int64_t n_rows = b.target_rows->ne[0];
    const int64_t first = b.labels ? sequence.n_prompt - 1 : 0;
    for (int64_t i = 0; i < n_rows; ++i) rows[i] = static_cast<int32_t>(first + i);
    if (b.labels) {
        std::memset(b.labels->data, 0, ggml_nbytes(b.labels));
        auto* labels = static_cast<float*>(b.labels->data);
        for (int64_t i = 0; i < n_rows; ++i)
            labels[i * model_.shape.n_vocab + sequence.label_at(static_cast<size_t>(first + i))] = 1.0f;
    }
    if (ggml_backend_graph_compute(backend_.get(), b.graph) != GGML_STATUS_SUCCESS) {
        throw std::runtime_error("ggml graph compute failed");
    }
}

std::vector<float> TrainingGraph::logits(const std::vector<int32_t>& tokens) {
    TokenSequence sequence{tokens, 0};
    Built b = build(sequence, /*all_logits=*/true, /*backward=*/false);
    compute(b, sequence);
    std::vector<float> out(ggml_nelements(b.logits));
    std::memcpy(out.data(), b.logits->data, out.size() * sizeof(float));
    return out;
}

float TrainingGraph::loss(const TokenSequence& sequence) {
    Built b = build(sequence, false, false);
    compute(b, sequence);
    return ggml_get_f32_1d(b.loss, 0);
}

float TrainingGraph::accumulate_gradients(const TokenSequence& sequence) {
    Built b = build(sequence, false, true);
    compute(b, sequence);
    return ggml_get_f32_1d(b.loss, 0);
}

}  // namespace mimir
