// projection (W x) and projection_input_gradient (W^T g) must equal the products computed naively from the
// dequantized weights, for every weight type the trainer meets and for shapes that leave tails in each
// tiling dimension.
#include "train/projection_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ggml-cpu.h"
#include "model/llama_handles.h"

namespace mimir {
namespace {

struct Case {
    ggml_type type;
    int64_t n_in, n_out, n_tokens;
    int n_threads;
};

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> values(n);
    for (float& v : values) v = uniform(rng);
    return values;
}

// Largest |ours - naive| relative to the largest |naive| of the product; `forward` picks W x, else W^T g.
double relative_error(const Case& c, bool forward) {
    GgmlContextHandle ctx(ggml_init({256 * 1024 * 1024, nullptr, false}));
    ggml_tensor* weight = ggml_new_tensor_2d(ctx.get(), c.type, c.n_in, c.n_out);
    const int64_t n_other = forward ? c.n_in : c.n_out;  // rows of x or g
    ggml_tensor* gradient = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, n_other, c.n_tokens);
    const std::vector<float> w = random_values(static_cast<size_t>(c.n_in * c.n_out), 1);
    const std::vector<float> g = random_values(static_cast<size_t>(n_other * c.n_tokens), 2);
    if (c.type == GGML_TYPE_F32) {
        std::copy(w.begin(), w.end(), static_cast<float*>(weight->data));
    } else {
        ggml_quantize_chunk(c.type, w.data(), weight->data, 0, c.n_out, c.n_in, nullptr);
    }
    std::copy(g.begin(), g.end(), static_cast<float*>(gradient->data));

    ggml_tensor* result = forward ? projection(ctx.get(), weight, gradient)
                                  : projection_input_gradient(ctx.get(), weight, gradient);
    ggml_cgraph* graph = ggml_new_graph(ctx.get());
    ggml_build_forward_expand(graph, result);
    EXPECT_EQ(ggml_graph_compute_with_ctx(ctx.get(), graph, c.n_threads), GGML_STATUS_SUCCESS);

    // The reference reads W back through ggml's own dequantization, so only the product is under test.
    std::vector<float> dequantized(w.size());
    if (c.type == GGML_TYPE_F32) {
        dequantized = w;
    } else {
        ggml_get_type_traits(c.type)->to_float(weight->data, dequantized.data(), c.n_in * c.n_out);
    }
    double max_error = 0, max_value = 0;
    const auto* ours = static_cast<const float*>(result->data);
    const int64_t n_result = forward ? c.n_out : c.n_in, n_sum = forward ? c.n_in : c.n_out;
    for (int64_t t = 0; t < c.n_tokens; ++t) {
        for (int64_t j = 0; j < n_result; ++j) {
            double expected = 0;
            for (int64_t k = 0; k < n_sum; ++k) {
                const float weight_value =
                    forward ? dequantized[j * c.n_in + k] : dequantized[k * c.n_in + j];
                expected += double(weight_value) * g[t * n_sum + k];
            }
            max_error = std::max(max_error, std::abs(expected - ours[t * n_result + j]));
            max_value = std::max(max_value, std::abs(expected));
        }
    }
    return max_error / max_value;
}

TEST(ProjectionOps, MatchNaiveProductsForEveryWeightType) {
    // n_in above one 512-column tile with a partial one, n_out with a partial 64-row tile, token counts
    // that leave 1-3 tokens after the 4-token blocks, thread counts that do and don't divide the work.
    const Case cases[] = {
        {GGML_TYPE_F32, 600, 70, 7, 2},  {GGML_TYPE_F16, 72, 130, 5, 3},   {GGML_TYPE_Q8_0, 544, 65, 6, 2},
        {GGML_TYPE_Q4_K, 768, 67, 9, 2}, {GGML_TYPE_Q6_K, 256, 129, 1, 4}, {GGML_TYPE_Q4_K, 1024, 3, 4, 1},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string(ggml_type_name(c.type)) + " " + std::to_string(c.n_in) + "x" +
                     std::to_string(c.n_out) + " tokens=" + std::to_string(c.n_tokens));
        EXPECT_LT(relative_error(c, /*forward=*/true), 1e-5);
        EXPECT_LT(relative_error(c, /*forward=*/false), 1e-5);
    }
}

TEST(ProjectionOps, RewriteOnlyTheListedWeightsProducts) {
    GgmlContextHandle ctx(ggml_init({64 * 1024 * 1024, nullptr, false}));
    ggml_tensor* frozen = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, 64, 32);
    ggml_tensor* other = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, 32, 16);
    ggml_tensor* x = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, 64, 5);
    ggml_set_param(x);
    ggml_tensor* loss =
        ggml_sum(ctx.get(), ggml_mul_mat(ctx.get(), other, ggml_mul_mat(ctx.get(), frozen, x)));
    ggml_set_loss(loss);
    ggml_cgraph* graph = ggml_new_graph_custom(ctx.get(), GGML_DEFAULT_GRAPH_SIZE, true);
    ggml_build_forward_expand(graph, loss);
    ggml_build_backward_expand(ctx.get(), graph, nullptr);
    EXPECT_EQ(use_projection_ops(ctx.get(), graph, {frozen}), 2);  // its W x and its W^T g
    int custom = 0, out_prod = 0;
    for (int i = 0; i < ggml_graph_n_nodes(graph); ++i) {
        custom += ggml_graph_node(graph, i)->op == GGML_OP_CUSTOM;
        out_prod += ggml_graph_node(graph, i)->op == GGML_OP_OUT_PROD;
    }
    EXPECT_EQ(custom, 2);
    EXPECT_EQ(out_prod, 1);  // `other`'s products stay as ggml wrote them
}

}  // namespace
}  // namespace mimir
