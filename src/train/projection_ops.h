// A projection's two products with a frozen (possibly 4-bit) weight W, computed from W's own storage:
// W x in the forward pass and W^T g, the input gradient, in the backward pass. ggml's backward pass writes
// W^T g as out_prod(W, transpose(g)), whose CPU kernel dequantizes every row of W once per token (a
// transposed copy of W instead would double a frozen base's memory: 2.4 GB more for Phi-3-mini Q4_K_M);
// and its W x quantizes x to 8 bits for integer dot products. These ops dequantize W once per pass, in tiles
// shared by all tokens, and multiply them with the kernel path given (train/projection_kernels.h): F32
// registers, or the tile rounded once to BF16 for vdpbf16ps / AMX.
#pragma once

#include <vector>

#include "model/llama_handles.h"
#include "train/projection_kernels.h"

namespace mimir {

// [n_out, n_tokens] = W x for W [n_in, n_out] (F32, F16 or any quantized type) and x [n_in, n_tokens]
// (contiguous F32): a GGML_OP_CUSTOM node that runs on the graph's threads with the kernels of `path`.
// `path` must be available here (resolve_kernel_path); Auto means the best one. An unavailable path is a
// bug of the caller: std::invalid_argument.
ggml_tensor* projection(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* input, KernelPath path);

// [n_in, n_tokens] = W^T g for W [n_in, n_out] and g [n_out, n_tokens] (contiguous F32).
ggml_tensor* projection_input_gradient(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* gradient,
                                       KernelPath path);

// Rewrites, in place, every mul_mat(W, x) and out_prod(W, transpose(g)) of `graph` whose W is in `weights`
// and whose x or g is a contiguous F32 matrix into projection / projection_input_gradient: same values and
// shapes, no graph reordering, all with the kernels of `path`. Call it after the backward pass is built.
// Returns how many nodes it rewrote.
int use_projection_ops(ggml_context* ctx, ggml_cgraph* graph, const std::vector<const ggml_tensor*>& weights,
                       KernelPath path);

}  // namespace mimir
