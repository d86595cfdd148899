#include "train/forward_builder.h"

#include <cmath>

namespace mimir {

ggml_tensor* ForwardBuilder::embed(ggml_tensor* tokens) {
    return ggml_get_rows(ctx_, model_.token_embd, tokens);
}

ggml_tensor* ForwardBuilder::layer(const BlockWeights& block, ggml_tensor* x, ggml_tensor* positions) {
    x = ggml_add(ctx_, x, attention(block, norm(x, block.attn_norm), positions));
    return ggml_add(ctx_, x, feed_forward(block, norm(x, block.ffn_norm)));
}

ggml_tensor* ForwardBuilder::blocks(ggml_tensor* tokens, ggml_tensor* positions) {
    ggml_tensor* x = embed(tokens);
    for (const BlockWeights& block : model_.blocks) x = layer(block, x, positions);
    return x;
}

ggml_tensor* ForwardBuilder::head(ggml_tensor* rows) {
    return project(model_.output, norm(rows, model_.output_norm));
}

// The head's rows picked before the product, in the weight and in the adapter's B alike, so the
// product costs n_ids rows instead of n_vocab.
ggml_tensor* ForwardBuilder::head_for(ggml_tensor* rows, ggml_tensor* vocabulary) {
    ggml_tensor* x = norm(rows, model_.output_norm);
    ggml_tensor* out = ggml_mul_mat(ctx_, ggml_get_rows(ctx_, model_.output, vocabulary), x);
    const LoraPair* pair = lora_ ? lora_->find(model_.output) : nullptr;
    if (!pair) return out;
    ggml_tensor* low =
        ggml_mul_mat(ctx_, ggml_get_rows(ctx_, pair->b, vocabulary), ggml_mul_mat(ctx_, pair->a, x));
    return ggml_add(ctx_, out, ggml_scale(ctx_, low, lora_->scale()));
}

ggml_tensor* ForwardBuilder::norm(ggml_tensor* x, ggml_tensor* weight) {
    return ggml_mul(ctx_, ggml_rms_norm(ctx_, x, shape_.rms_eps), weight);
}

// W x, plus (alpha / r) B (A x) when the adapter targets W.
ggml_tensor* ForwardBuilder::project(ggml_tensor* weight, ggml_tensor* x) {
    ggml_tensor* out = ggml_mul_mat(ctx_, weight, x);
    const LoraPair* pair = lora_ ? lora_->find(weight) : nullptr;
    if (!pair) return out;
    ggml_tensor* low = ggml_mul_mat(ctx_, pair->b, ggml_mul_mat(ctx_, pair->a, x));
    return ggml_add(ctx_, out, ggml_scale(ctx_, low, lora_->scale()));
}

// Rows [first_row, first_row + n_heads * head_dim) of a fused [*, n_tokens] projection output as
// [head_dim, n_heads, n_tokens]. Copy, then reshape: ggml's backward pass of a reshape accepts the
// permuted gradients attention sends back (that of a copy does not).
ggml_tensor* ForwardBuilder::heads(ggml_tensor* fused, int64_t first_row, int64_t n_heads) {
    const int64_t hd = shape_.head_dim();
    const int64_t n_tokens = fused->ne[1];
    ggml_tensor* rows =
        ggml_view_2d(ctx_, fused, hd * n_heads, n_tokens, fused->nb[1], first_row * ggml_element_size(fused));
    return ggml_reshape_3d(ctx_, ggml_cont(ctx_, rows), hd, n_heads, n_tokens);
}

ggml_tensor* ForwardBuilder::rope(ggml_tensor* x, ggml_tensor* positions) {
    return ggml_rope_ext(ctx_, x, positions, nullptr, static_cast<int>(shape_.n_rot), shape_.rope_mode,
                         static_cast<int>(shape_.n_ctx_train), shape_.rope_freq_base, 1.0f, 0.0f, 1.0f, 32.0f,
                         1.0f);
}

ggml_tensor* ForwardBuilder::attention(const BlockWeights& block, ggml_tensor* x, ggml_tensor* positions) {
    const int64_t n_tokens = x->ne[1];
    ggml_tensor *q, *k, *v;
    if (block.attn_qkv) {
        ggml_tensor* qkv = project(block.attn_qkv, x);
        q = heads(qkv, 0, shape_.n_head);
        k = heads(qkv, shape_.n_embd, shape_.n_head_kv);
        v = heads(qkv, shape_.n_embd + shape_.n_embd_kv(), shape_.n_head_kv);
    } else {
        q = ggml_reshape_3d(ctx_, project(block.attn_q, x), shape_.head_dim(), shape_.n_head, n_tokens);
        k = ggml_reshape_3d(ctx_, project(block.attn_k, x), shape_.head_dim(), shape_.n_head_kv, n_tokens);
        v = ggml_reshape_3d(ctx_, project(block.attn_v, x), shape_.head_dim(), shape_.n_head_kv, n_tokens);
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

ggml_tensor* ForwardBuilder::feed_forward(const BlockWeights& block, ggml_tensor* x) {
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

}  // namespace mimir
