// projection (W x) and projection_input_gradient (W^T g) on every kernel path this CPU runs must equal the
// products computed in double from the dequantized weights, within a bound derived from each path's
// arithmetic, for every weight type the trainer meets and for shapes that leave tails in each tiling
// dimension, plus real Phi-3-mini-shaped weights. A path this CPU lacks is skipped, naming why.
//
// The bounds (u = unit roundoff; a sum of n terms, each rounded addition or FMA costing at most u):
//   F32 paths: the weights dequantize to the same F32 values as the reference's and the inputs are F32, so
//     only the n - 1 additions (and, without FMA, the n products) round:
//     |ours - exact| <= gamma(n + 1) * sum |w x|, gamma(k) = k u / (1 - k u), u = 2^-24.
//   BF16 paths (amx, avx512bf16): both operands are rounded to nearest BF16 (8 significant bits,
//     u_bf16 = 2^-8); the product of two BF16 numbers is exact in F32; the sum is F32 as above; products
//     below FLT_MIN may be flushed to zero (at most FLT_MIN each). Against the exact product of the
//     unrounded operands: |ours - exact| <= ((1 + u_bf16)^2 (1 + gamma(n + 1)) - 1) * sum |w x| + n FLT_MIN
//     (about 2^-7 of sum |w x|); against the exact product of the BF16-rounded operands (the reference
//     rounds them too): only the F32 sum's gamma(n + 1) * sum |w' x'| + n FLT_MIN.
// These bounds are loose for one missing term when n is large, so a second test uses small integers,
// exact in BF16 and in every F32 partial sum: there every path must give the exact product.
#include "train/projection_ops.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <tuple>
#include <vector>

#include "ggml-cpu.h"
#include "model/llama_handles.h"
#include "train/projection_kernels.h"

namespace mimir {
namespace {

struct Case {
    ggml_type type;
    int64_t n_in, n_out, n_tokens;
    int n_threads;
};

std::string case_name(const Case& c) {
    return std::string(ggml_type_name(c.type)) + " " + std::to_string(c.n_in) + "x" +
           std::to_string(c.n_out) + " tokens=" + std::to_string(c.n_tokens);
}

double gamma(int64_t k, double u) {
    return static_cast<double>(k) * u / (1 - static_cast<double>(k) * u);
}

float to_bf16(float v) {
    return ggml_bf16_to_fp32(ggml_fp32_to_bf16(v));
}

// The weight as stored (quantized from `values`) and what the reference multiplies: its dequantization.
struct Weight {
    std::vector<uint8_t> data;
    std::vector<float> dequantized;
};

Weight make_weight(const Case& c, const std::vector<float>& values) {
    Weight w;
    w.data.resize(ggml_row_size(c.type, c.n_in) * static_cast<size_t>(c.n_out));
    if (c.type == GGML_TYPE_F32) {
        std::memcpy(w.data.data(), values.data(), w.data.size());
    } else {
        ggml_quantize_chunk(c.type, values.data(), w.data.data(), 0, c.n_out, c.n_in, nullptr);
    }
    w.dequantized.resize(values.size());
    if (c.type == GGML_TYPE_F32) {
        w.dequantized = values;
    } else {
        ggml_get_type_traits(c.type)->to_float(w.data.data(), w.dequantized.data(), c.n_in * c.n_out);
    }
    return w;
}

// Runs the op on `path`; `forward` picks W x (input [n_in, tokens]), else W^T g (input [n_out, tokens]).
std::vector<float> run_op(const Case& c, const Weight& w, const std::vector<float>& input, bool forward,
                          KernelPath path) {
    const size_t bytes =
        w.data.size() +
        (input.size() + static_cast<size_t>((c.n_in + c.n_out) * c.n_tokens)) * sizeof(float) + (4u << 20);
    GgmlContextHandle ctx(ggml_init({bytes, nullptr, false}));
    ggml_tensor* weight = ggml_new_tensor_2d(ctx.get(), c.type, c.n_in, c.n_out);
    ggml_tensor* other = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, forward ? c.n_in : c.n_out, c.n_tokens);
    std::memcpy(weight->data, w.data.data(), w.data.size());
    std::memcpy(other->data, input.data(), input.size() * sizeof(float));
    ggml_tensor* result = forward ? projection(ctx.get(), weight, other, path)
                                  : projection_input_gradient(ctx.get(), weight, other, path);
    ggml_cgraph* graph = ggml_new_graph(ctx.get());
    ggml_build_forward_expand(graph, result);
    EXPECT_EQ(ggml_graph_compute_with_ctx(ctx.get(), graph, c.n_threads), GGML_STATUS_SUCCESS);
    const auto* values = static_cast<const float*>(result->data);
    return std::vector<float>(values, values + ggml_nelements(result));
}

// The exact product in double and sum |w x| per output, with the operands optionally rounded to BF16.
struct Reference {
    std::vector<double> exact, magnitude;
};

Reference reference(const Case& c, const Weight& w, const std::vector<float>& input, bool forward,
                    bool bf16) {
    const int64_t n_result = forward ? c.n_out : c.n_in, n_sum = forward ? c.n_in : c.n_out;
    std::vector<float> weight = w.dequantized, in = input;
    if (bf16) {
        for (float& v : weight) v = to_bf16(v);
        for (float& v : in) v = to_bf16(v);
    }
    Reference r;
    r.exact.assign(static_cast<size_t>(n_result * c.n_tokens), 0);
    r.magnitude.assign(r.exact.size(), 0);
    for (int64_t t = 0; t < c.n_tokens; ++t) {
        for (int64_t j = 0; j < n_result; ++j) {
            double sum = 0, magnitude = 0;
            for (int64_t k = 0; k < n_sum; ++k) {
                const double term =
                    double(forward ? weight[j * c.n_in + k] : weight[k * c.n_in + j]) * in[t * n_sum + k];
                sum += term;
                magnitude += std::fabs(term);
            }
            r.exact[t * n_result + j] = sum;
            r.magnitude[t * n_result + j] = magnitude;
        }
    }
    return r;
}

// Largest |ours - exact| / bound over the outputs (<= 1 passes), the bound being factor * magnitude + floor.
double worst_ratio(const std::vector<float>& ours, const Reference& r, double factor, double floor) {
    double worst = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
        const double bound = factor * r.magnitude[i] + floor;
        worst = std::max(worst, std::fabs(ours[i] - r.exact[i]) / bound);
    }
    return worst;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> values(n);
    for (float& v : values) v = uniform(rng);
    return values;
}

// A case's weight, inputs and references, made once and shared by every path's test (quantizing and the
// double-precision reference dominate the time).
struct Prepared {
    Weight weight;
    std::vector<float> input[2];           // [forward]
    std::optional<Reference> exact[2][2];  // [forward][operands rounded to BF16]
};

Prepared& prepared(const Case& c) {
    static std::map<std::string, Prepared> cache;
    auto [it, inserted] = cache.try_emplace(case_name(c));
    Prepared& p = it->second;
    if (inserted) {
        p.weight = make_weight(c, random_values(static_cast<size_t>(c.n_in * c.n_out), 1));
        for (bool forward : {false, true}) {
            p.input[forward] =
                random_values(static_cast<size_t>((forward ? c.n_in : c.n_out) * c.n_tokens), 2);
        }
    }
    return p;
}

const Reference& reference_of(const Case& c, bool forward, bool bf16) {
    Prepared& p = prepared(c);
    std::optional<Reference>& r = p.exact[forward][bf16];
    if (!r) r = reference(c, p.weight, p.input[forward], forward, bf16);
    return *r;
}

class ProjectionKernels : public ::testing::TestWithParam<KernelPath> {
  protected:
    void SetUp() override {
        const std::string why = kernel_path_unavailable_reason(GetParam());
        if (!why.empty()) GTEST_SKIP() << "kernels " << kernel_path_name(GetParam()) << " not run: " << why;
    }

    // Checks both products of `c` on random weights against the bounds in the file comment.
    void expect_within_bounds(const Case& c) {
        SCOPED_TRACE(case_name(c));
        const KernelPath path = GetParam();
        for (bool forward : {true, false}) {
            SCOPED_TRACE(forward ? "W x" : "W^T g");
            const int64_t n_sum = forward ? c.n_in : c.n_out;
            const std::vector<float> ours =
                run_op(c, prepared(c).weight, prepared(c).input[forward], forward, path);
            const double sum_error = gamma(n_sum + 1, std::ldexp(1.0, -24));
            if (!kernel_path_is_bf16(path)) {
                EXPECT_LE(worst_ratio(ours, reference_of(c, forward, false), sum_error, 0), 1.0);
                continue;
            }
            const double u = std::ldexp(1.0, -8), flushed = static_cast<double>(n_sum) * FLT_MIN;
            const double against_f32 = worst_ratio(ours, reference_of(c, forward, false),
                                                   (1 + u) * (1 + u) * (1 + sum_error) - 1, flushed);
            const double against_bf16 = worst_ratio(ours, reference_of(c, forward, true), sum_error, flushed);
            std::printf(
                "[ measured ] %s %s %s: error / bound = %.3g (vs F32 operands), %.3g (vs BF16 operands)\n",
                kernel_path_name(path).c_str(), case_name(c).c_str(), forward ? "W x" : "W^T g", against_f32,
                against_bf16);
            EXPECT_LE(against_f32, 1.0);
            EXPECT_LE(against_bf16, 1.0);
        }
    }
};

TEST_P(ProjectionKernels, RandomTilesWithTailsMatchWithinTheBound) {
    // n_in above one 512-column tile with a partial one, n_out with a partial 64-row tile, odd sums (a BF16
    // pair half empty), token counts that leave tails after blocks of 6 (F32, avx512bf16) and 32 (amx),
    // thread counts that do and don't divide the work.
    const Case cases[] = {
        {GGML_TYPE_F32, 600, 70, 7, 2},  {GGML_TYPE_F16, 72, 130, 5, 3},    {GGML_TYPE_Q8_0, 544, 65, 6, 2},
        {GGML_TYPE_Q4_K, 768, 67, 9, 2}, {GGML_TYPE_Q6_K, 256, 129, 1, 4},  {GGML_TYPE_Q4_K, 1024, 3, 4, 1},
        {GGML_TYPE_F32, 97, 33, 37, 2},  {GGML_TYPE_Q4_K, 512, 100, 70, 2}, {GGML_TYPE_F16, 1030, 31, 33, 1},
    };
    for (const Case& c : cases) expect_within_bounds(c);
}

TEST_P(ProjectionKernels, PhiThreeMiniShapedWeightsMatchWithinTheBound) {
    // Phi-3-mini's projections as Q4_K_M stores them (qkv and gate/up Q4_K, output Q4_K, down Q6_K) and
    // as F16 / Q8_0 files do; a few tokens keep the double-precision reference quick.
    const Case cases[] = {
        {GGML_TYPE_Q4_K, 3072, 9216, 3, 2},
        {GGML_TYPE_Q6_K, 8192, 3072, 2, 2},
        {GGML_TYPE_Q8_0, 3072, 3072, 5, 2},
        {GGML_TYPE_F16, 3072, 3072, 4, 2},
    };
    for (const Case& c : cases) expect_within_bounds(c);
}

TEST_P(ProjectionKernels, SmallIntegerProductsAreExact) {
    // Integers in [-8, 8] are exact in F16 and BF16, and every partial sum (below 2^24) is exact in F32:
    // a dropped, repeated or misplaced term anywhere (tails included) shows as a difference.
    const Case cases[] = {
        {GGML_TYPE_F32, 600, 70, 7, 2},
        {GGML_TYPE_F16, 1030, 131, 37, 2},
        {GGML_TYPE_F32, 33, 97, 65, 3},
        {GGML_TYPE_F16, 512, 64, 32, 1},
        // More tokens than a BF16 kernel's cache of converted inputs holds: converted block by block.
        {GGML_TYPE_F16, 512, 8, 3600, 1},
    };
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> small(-8, 8);
    for (const Case& c : cases) {
        SCOPED_TRACE(case_name(c));
        std::vector<float> values(static_cast<size_t>(c.n_in * c.n_out));
        for (float& v : values) v = static_cast<float>(small(rng));
        const Weight w = make_weight(c, values);
        for (bool forward : {true, false}) {
            std::vector<float> input(static_cast<size_t>((forward ? c.n_in : c.n_out) * c.n_tokens));
            for (float& v : input) v = static_cast<float>(small(rng));
            const std::vector<float> ours = run_op(c, w, input, forward, GetParam());
            const Reference r = reference(c, w, input, forward, false);
            int wrong = 0;
            for (size_t i = 0; i < ours.size(); ++i) wrong += static_cast<double>(ours[i]) != r.exact[i];
            EXPECT_EQ(wrong, 0) << (forward ? "W x" : "W^T g")
                                << ": outputs differing from the exact product";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, ProjectionKernels,
                         ::testing::Values(KernelPath::Amx, KernelPath::Avx512Bf16, KernelPath::Avx512,
                                           KernelPath::Avx2, KernelPath::Generic),
                         [](const ::testing::TestParamInfo<KernelPath>& info) {
                             return kernel_path_name(info.param);
                         });

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
    EXPECT_EQ(use_projection_ops(ctx.get(), graph, {frozen}, KernelPath::Generic), 2);  // W x and W^T g
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
