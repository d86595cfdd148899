#include "train/projection_ops.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "train/kernels/projection_kernel.h"

namespace mimir {

namespace {

using kernels::kScratchBytes;
using kernels::kTileColumns;
using kernels::kTileRows;

// Per thread: the dequantized F32 tile and the kernel's scratch (64-byte aligned for tile loads).
struct ThreadBuffers {
    std::vector<float> tile = std::vector<float>(static_cast<size_t>(kTileRows * kTileColumns));
    std::vector<float> scratch_storage = std::vector<float>(kScratchBytes / sizeof(float) + 16);
    void* scratch() {
        const auto address = reinterpret_cast<uintptr_t>(scratch_storage.data());
        return reinterpret_cast<void*>((address + 63) & ~uintptr_t(63));
    }
};

ThreadBuffers& thread_buffers() {
    thread_local ThreadBuffers buffers;
    return buffers;
}

// Rows [row0, row0 + n_rows) of W, columns [col0, col0 + width), as floats with stride `width`. col0 is a
// multiple of the type's block size, so the byte offset of a column range is exact.
void dequantize_rows(const ggml_tensor* w, int64_t row0, int64_t n_rows, int64_t col0, int64_t width,
                     float* out) {
    const size_t column_offset = ggml_row_size(w->type, col0);
    const auto to_float = ggml_get_type_traits(w->type)->to_float;
    for (int64_t r = 0; r < n_rows; ++r) {
        const char* src = static_cast<const char*>(w->data) + (row0 + r) * w->nb[1] + column_offset;
        float* dst = out + r * width;
        if (w->type == GGML_TYPE_F32) {
            std::memcpy(dst, src, static_cast<size_t>(width) * sizeof(float));
        } else {
            to_float(src, dst, width);
        }
    }
}

// Both ops split their work into (tile, token range) items, each thread taking every nth. Tiles alone
// balance a real model (3072+ wide); splitting the tokens too keeps all threads busy on narrow test models.
struct WorkSplit {
    int64_t n_tiles, n_token_parts, n_tokens;
    WorkSplit(int64_t tiles, int64_t tokens, int nth)
        : n_tiles(tiles),
          n_token_parts(std::max<int64_t>(1, std::min<int64_t>(tokens, (nth + tiles - 1) / tiles))),
          n_tokens(tokens) {}
    int64_t n_items() const { return n_tiles * n_token_parts; }
    int64_t tile(int64_t item) const { return item % n_tiles; }
    int64_t token_begin(int64_t item) const { return n_tokens * (item / n_tiles) / n_token_parts; }
    int64_t token_end(int64_t item) const { return n_tokens * (item / n_tiles + 1) / n_token_parts; }
};

// dst [n_in, n_tokens] = W^T g: items are (column tile, token range); each W element is dequantized once
// per item and serves every token of the range.
void input_gradient_op(ggml_tensor* dst, int ith, int nth, void* userdata) {
    const auto& kernel = *static_cast<const kernels::ProjectionKernel*>(userdata);
    const ggml_tensor* w = dst->src[0];
    const ggml_tensor* g = dst->src[1];
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    const WorkSplit split((n_in + kTileColumns - 1) / kTileColumns, g->ne[1], nth);
    ThreadBuffers& buffers = thread_buffers();
    const auto* gradient = static_cast<const float*>(g->data);
    auto* result = static_cast<float*>(dst->data);

    for (int64_t item = ith; item < split.n_items(); item += nth) {
        const int64_t col0 = split.tile(item) * kTileColumns;
        const int64_t width = std::min(kTileColumns, n_in - col0);
        const int64_t t_begin = split.token_begin(item), t_end = split.token_end(item);
        for (int64_t t = t_begin; t < t_end; ++t)
            std::memset(result + t * n_in + col0, 0, width * sizeof(float));
        for (int64_t row0 = 0; row0 < n_out; row0 += kTileRows) {
            const int64_t n_rows = std::min(kTileRows, n_out - row0);
            dequantize_rows(w, row0, n_rows, col0, width, buffers.tile.data());
            kernel.accumulate_columns({.tile = buffers.tile.data(),
                                       .n_rows = n_rows,
                                       .width = width,
                                       .in = gradient + t_begin * n_out + row0,
                                       .in_stride = n_out,
                                       .n_tokens = t_end - t_begin,
                                       .out = result + t_begin * n_in + col0,
                                       .out_stride = n_in,
                                       .scratch = buffers.scratch(),
                                       .input_unchanged = false});
        }
    }
}

// dst [n_out, n_tokens] = W x: items are (row tile, token range), so each thread owns whole output rows. The
// column tiles are the outer loop: all of a thread's items then multiply the same inputs in a row, which a
// BF16 kernel converts once (TileProduct::input_unchanged).
void projection_op(ggml_tensor* dst, int ith, int nth, void* userdata) {
    const auto& kernel = *static_cast<const kernels::ProjectionKernel*>(userdata);
    const ggml_tensor* w = dst->src[0];
    const ggml_tensor* x = dst->src[1];
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    const WorkSplit split((n_out + kTileRows - 1) / kTileRows, x->ne[1], nth);
    ThreadBuffers& buffers = thread_buffers();
    const auto* input = static_cast<const float*>(x->data);
    auto* result = static_cast<float*>(dst->data);

    for (int64_t col0 = 0; col0 < n_in; col0 += kTileColumns) {
        const int64_t width = std::min(kTileColumns, n_in - col0);
        int64_t previous_begin = -1, previous_end = -1;
        for (int64_t item = ith; item < split.n_items(); item += nth) {
            const int64_t row0 = split.tile(item) * kTileRows;
            const int64_t n_rows = std::min(kTileRows, n_out - row0);
            const int64_t t_begin = split.token_begin(item), t_end = split.token_end(item);
            if (col0 == 0) {
                for (int64_t t = t_begin; t < t_end; ++t)
                    std::memset(result + t * n_out + row0, 0, n_rows * sizeof(float));
            }
            dequantize_rows(w, row0, n_rows, col0, width, buffers.tile.data());
            kernel.accumulate_rows({.tile = buffers.tile.data(),
                                    .n_rows = n_rows,
                                    .width = width,
                                    .in = input + t_begin * n_in + col0,
                                    .in_stride = n_in,
                                    .n_tokens = t_end - t_begin,
                                    .out = result + t_begin * n_out + row0,
                                    .out_stride = n_out,
                                    .scratch = buffers.scratch(),
                                    .input_unchanged = t_begin == previous_begin && t_end == previous_end});
            previous_begin = t_begin;
            previous_end = t_end;
        }
    }
}

// The op's userdata: the path's functions (static, so the pointer outlives every graph).
void* kernel_userdata(KernelPath path) {
    const Result<KernelPath> resolved = resolve_kernel_path(path);
    if (!resolved) throw std::invalid_argument(resolved.error().message);
    return const_cast<kernels::ProjectionKernel*>(&projection_kernel(*resolved));
}

}  // namespace

ggml_tensor* projection(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* input, KernelPath path) {
    ggml_tensor* args[] = {weight, input};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, weight->ne[1], input->ne[1], 1, 1, args, 2, projection_op,
                          GGML_N_TASKS_MAX, kernel_userdata(path));
}

ggml_tensor* projection_input_gradient(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* gradient,
                                       KernelPath path) {
    ggml_tensor* args[] = {weight, gradient};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, weight->ne[0], gradient->ne[1], 1, 1, args, 2,
                          input_gradient_op, GGML_N_TASKS_MAX, kernel_userdata(path));
}

int use_projection_ops(ggml_context* ctx, ggml_cgraph* graph, const std::vector<const ggml_tensor*>& weights,
                       KernelPath path) {
    auto plain_matrix = [](const ggml_tensor* t) {
        return t->type == GGML_TYPE_F32 && ggml_is_contiguous(t) && t->ne[2] == 1 && t->ne[3] == 1;
    };
    int rewritten = 0;
    for (int i = 0; i < ggml_graph_n_nodes(graph); ++i) {
        ggml_tensor* node = ggml_graph_node(graph, i);
        ggml_tensor* weight = node->src[0];
        ggml_tensor* other = nullptr;  // x for W x, g for W^T g
        const ggml_tensor* replacement = nullptr;
        if (node->op == GGML_OP_MUL_MAT) {
            other = node->src[1];
        } else if (node->op == GGML_OP_OUT_PROD && node->src[1]->op == GGML_OP_TRANSPOSE) {
            other = node->src[1]->src[0];
        } else {
            continue;
        }
        if (std::find(weights.begin(), weights.end(), weight) == weights.end() || !plain_matrix(other) ||
            weight->ne[2] != 1 || weight->ne[3] != 1) {
            continue;
        }
        replacement = node->op == GGML_OP_MUL_MAT ? projection(ctx, weight, other, path)
                                                  : projection_input_gradient(ctx, weight, other, path);
        // The replacement computes the same [rows, n_tokens] F32 value; taking over its op, parameters and
        // sources keeps the node's place in the graph and every consumer's pointer to it (the backward pass
        // was already built from the original op's meaning).
        node->op = replacement->op;
        std::memcpy(node->op_params, replacement->op_params, sizeof(node->op_params));
        std::fill(std::begin(node->src), std::end(node->src), nullptr);
        node->src[0] = weight;
        node->src[1] = other;
        ++rewritten;
    }
    return rewritten;
}

}  // namespace mimir
