#include "train/projection_ops.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace mimir {

namespace {

// One AVX-512 register (16 floats) or one AVX register (8) where the file is compiled for them (see
// train/CMakeLists); GCC and clang lower vector extensions to whatever the target has.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
using Vector = float __attribute__((vector_size(kLanes * sizeof(float))));
constexpr int kVectorsPerBlock = 4;  // columns held in registers per token: 4 vectors
constexpr int64_t kBlockWidth = kLanes * kVectorsPerBlock;
constexpr int kTokensPerBlock = 6;     // tokens sharing each W vector loaded
constexpr int64_t kTileRows = 64;      // rows of W dequantized together
constexpr int64_t kTileColumns = 512;  // a multiple of every ggml block size (32, 256)

Vector load(const float* p) {
    Vector v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
void store(float* p, Vector v) {
    std::memcpy(p, &v, sizeof v);
}

// out[t][c] += sum over r of tile[r][c] * g[t][r], for NT tokens. W vectors come from L1/L2 once per NT
// tokens; the accumulators stay in registers across all rows of the tile.
template <int NT>
void multiply_tile(const float* tile, int64_t n_rows, int64_t width, const float* const* g,
                   float* const* out) {
    int64_t c = 0;
    for (; c + kBlockWidth <= width; c += kBlockWidth) {
        Vector acc[NT][kVectorsPerBlock];
        for (int t = 0; t < NT; ++t) {
            for (int v = 0; v < kVectorsPerBlock; ++v) acc[t][v] = load(out[t] + c + v * kLanes);
        }
        for (int64_t r = 0; r < n_rows; ++r) {
            const float* row = tile + r * width + c;
            Vector w[kVectorsPerBlock];
            for (int v = 0; v < kVectorsPerBlock; ++v) w[v] = load(row + v * kLanes);
            for (int t = 0; t < NT; ++t) {
                const float s = g[t][r];
                for (int v = 0; v < kVectorsPerBlock; ++v) acc[t][v] += s * w[v];
            }
        }
        for (int t = 0; t < NT; ++t) {
            for (int v = 0; v < kVectorsPerBlock; ++v) store(out[t] + c + v * kLanes, acc[t][v]);
        }
    }
    for (; c < width; ++c) {
        for (int t = 0; t < NT; ++t) {
            float sum = out[t][c];
            for (int64_t r = 0; r < n_rows; ++r) sum += tile[r * width + c] * g[t][r];
            out[t][c] = sum;
        }
    }
}

void multiply_tokens(int n_tokens, const float* tile, int64_t n_rows, int64_t width, const float* const* g,
                     float* const* out) {
    switch (n_tokens) {
        case 6:
            multiply_tile<6>(tile, n_rows, width, g, out);
            break;
        case 5:
            multiply_tile<5>(tile, n_rows, width, g, out);
            break;
        case 4:
            multiply_tile<4>(tile, n_rows, width, g, out);
            break;
        case 3:
            multiply_tile<3>(tile, n_rows, width, g, out);
            break;
        case 2:
            multiply_tile<2>(tile, n_rows, width, g, out);
            break;
        default:
            multiply_tile<1>(tile, n_rows, width, g, out);
            break;
    }
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

// out_t += tile x in_t for the tokens t in [t_begin, t_end), kTokensPerBlock at a time; token t's input
// starts at in + t * in_stride and its output at out + t * out_stride.
void multiply_token_range(int64_t t_begin, int64_t t_end, const float* tile, int64_t n_rows, int64_t width,
                          const float* in, int64_t in_stride, float* out, int64_t out_stride) {
    for (int64_t t = t_begin; t < t_end; t += kTokensPerBlock) {
        const int n = static_cast<int>(std::min<int64_t>(kTokensPerBlock, t_end - t));
        const float* in_rows[kTokensPerBlock];
        float* out_rows[kTokensPerBlock];
        for (int i = 0; i < n; ++i) {
            in_rows[i] = in + (t + i) * in_stride;
            out_rows[i] = out + (t + i) * out_stride;
        }
        multiply_tokens(n, tile, n_rows, width, in_rows, out_rows);
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
// per item and serves up to kTokensPerBlock tokens from registers.
void input_gradient_op(ggml_tensor* dst, int ith, int nth, void*) {
    const ggml_tensor* w = dst->src[0];
    const ggml_tensor* g = dst->src[1];
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    const WorkSplit split((n_in + kTileColumns - 1) / kTileColumns, g->ne[1], nth);
    thread_local std::vector<float> tile;
    tile.resize(static_cast<size_t>(kTileRows * kTileColumns));
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
            dequantize_rows(w, row0, n_rows, col0, width, tile.data());
            multiply_token_range(t_begin, t_end, tile.data(), n_rows, width, gradient + row0, n_out,
                                 result + col0, n_in);
        }
    }
}

// dst [n_out, n_tokens] = W x: items are (row tile, token range), so each thread owns whole output rows.
// The tile is transposed once, so the product runs in the same register-blocked form as W^T g (outputs in
// registers, one W vector serving several tokens) rather than as dot products ending in horizontal sums.
void projection_op(ggml_tensor* dst, int ith, int nth, void*) {
    const ggml_tensor* w = dst->src[0];
    const ggml_tensor* x = dst->src[1];
    const int64_t n_in = w->ne[0], n_out = w->ne[1];
    const WorkSplit split((n_out + kTileRows - 1) / kTileRows, x->ne[1], nth);
    thread_local std::vector<float> tile, transposed;
    tile.resize(static_cast<size_t>(kTileRows * kTileColumns));
    transposed.resize(tile.size());
    const auto* input = static_cast<const float*>(x->data);
    auto* result = static_cast<float*>(dst->data);

    for (int64_t item = ith; item < split.n_items(); item += nth) {
        const int64_t row0 = split.tile(item) * kTileRows;
        const int64_t n_rows = std::min(kTileRows, n_out - row0);
        const int64_t t_begin = split.token_begin(item), t_end = split.token_end(item);
        for (int64_t t = t_begin; t < t_end; ++t)
            std::memset(result + t * n_out + row0, 0, n_rows * sizeof(float));
        for (int64_t col0 = 0; col0 < n_in; col0 += kTileColumns) {
            const int64_t width = std::min(kTileColumns, n_in - col0);
            dequantize_rows(w, row0, n_rows, col0, width, tile.data());
            for (int64_t r = 0; r < n_rows; ++r) {
                for (int64_t c = 0; c < width; ++c) transposed[c * n_rows + r] = tile[r * width + c];
            }
            multiply_token_range(t_begin, t_end, transposed.data(), width, n_rows, input + col0, n_in,
                                 result + row0, n_out);
        }
    }
}

}  // namespace

ggml_tensor* projection(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* input) {
    ggml_tensor* args[] = {weight, input};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, weight->ne[1], input->ne[1], 1, 1, args, 2, projection_op,
                          GGML_N_TASKS_MAX, nullptr);
}

ggml_tensor* projection_input_gradient(ggml_context* ctx, ggml_tensor* weight, ggml_tensor* gradient) {
    ggml_tensor* args[] = {weight, gradient};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, weight->ne[0], gradient->ne[1], 1, 1, args, 2,
                          input_gradient_op, GGML_N_TASKS_MAX, nullptr);
}

int use_projection_ops(ggml_context* ctx, ggml_cgraph* graph,
                       const std::vector<const ggml_tensor*>& weights) {
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
        replacement = node->op == GGML_OP_MUL_MAT ? projection(ctx, weight, other)
                                                  : projection_input_gradient(ctx, weight, other);
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
