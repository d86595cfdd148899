// The input gradient of a projection, W^T g, computed straight from W's own (possibly 4-bit) storage.
// ggml's backward pass writes it as out_prod(W, transpose(g)), whose CPU kernel dequantizes every row of W
// once per token; keeping a transposed copy of W instead would double the memory of a frozen base (2.4 GB
// more for Phi-3-mini Q4_K_M). This op dequantizes each row once per backward pass, in tiles shared by all
// tokens, and multiplies them in registers.
#pragma once

#include <vector>

#include "model/llama_handles.h"

namespace mimir {

// [n_in, n_tokens] = W^T g for W [n_in, n_out] (F32, F16 or any quantized type) and g [n_out, n_tokens]
// (contiguous F32): a GGML_OP_CUSTOM node that runs on the graph's threads.
ggml_tensor* projection_input_gradient(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* gradient);

// Rewrites, in place, every out_prod(W, transpose(g)) of `graph` whose W is in `weights` and whose g is
// contiguous into projection_input_gradient(W, g): same value and shape, no graph reordering. Returns how
// many nodes it rewrote.
int use_projection_input_gradients(ggml_context* ctx, ggml_cgraph* graph,
                                   const std::vector<const ggml_tensor*>& weights);

}  // namespace mimir
