// GFLOP/s of the frozen-weight products (train/projection_ops) on each kernel path this CPU runs: W x and
// W^T g for one Phi-3-mini-shaped weight (3072 x 9216, the fused qkv, as Q4_K: what a Q4_K_M base stores)
// and --tokens tokens, same thread count for every path. Prints one `key=value` line per path and product;
// the best of --repetitions runs, since load from elsewhere only slows a run.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "ggml-cpu.h"
#include "model/llama_handles.h"
#include "train/projection_kernels.h"
#include "train/projection_ops.h"

namespace mimir {
namespace {

struct BenchOptions {
    int64_t n_in = 3072, n_out = 9216, n_tokens = 512;
    int n_threads = 2;
    int repetitions = 3;
    std::string type = "q4_K";
    std::vector<std::string> kernels = {"amx", "avx512bf16", "avx512", "avx2", "generic"};
};

double best_seconds(ggml_context* ctx, ggml_tensor* result, const BenchOptions& o) {
    ggml_cgraph* graph = ggml_new_graph(ctx);
    ggml_build_forward_expand(graph, result);
    double best = 1e30;
    for (int r = 0; r < o.repetitions + 1; ++r) {  // the first is a warm-up
        const auto t0 = std::chrono::steady_clock::now();
        ggml_graph_compute_with_ctx(ctx, graph, o.n_threads);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0 && s < best) best = s;
    }
    return best;
}

int run(const BenchOptions& o) {
    ggml_type type = GGML_TYPE_COUNT;
    for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
        const char* name = ggml_type_name(static_cast<ggml_type>(t));
        if (name && o.type == name) type = static_cast<ggml_type>(t);
    }
    if (type == GGML_TYPE_COUNT) {
        std::fprintf(stderr, "projection_bench: unknown --type %s\n", o.type.c_str());
        return 2;
    }
    // The weight, x, g, and both results of every path.
    const size_t bytes = ggml_row_size(type, o.n_in) * o.n_out +
                         (o.n_in + o.n_out) * o.n_tokens * sizeof(float) * (2 + o.kernels.size()) +
                         (16 << 20);
    GgmlContextHandle ctx(ggml_init({bytes, nullptr, false}));
    ggml_tensor* weight = ggml_new_tensor_2d(ctx.get(), type, o.n_in, o.n_out);
    ggml_tensor* x = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, o.n_in, o.n_tokens);
    ggml_tensor* g = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, o.n_out, o.n_tokens);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> values(static_cast<size_t>(o.n_in * o.n_out));
    for (float& v : values) v = uniform(rng);
    ggml_quantize_chunk(type, values.data(), weight->data, 0, o.n_out, o.n_in, nullptr);
    for (ggml_tensor* t : {x, g}) {
        for (int64_t i = 0; i < ggml_nelements(t); ++i) static_cast<float*>(t->data)[i] = uniform(rng);
    }
    const double flops = 2.0 * static_cast<double>(o.n_in) * o.n_out * o.n_tokens;
    std::printf("weight=%s %lldx%lld tokens=%lld threads=%d\n", o.type.c_str(),
                static_cast<long long>(o.n_in), static_cast<long long>(o.n_out),
                static_cast<long long>(o.n_tokens), o.n_threads);
    for (const std::string& name : o.kernels) {
        const auto found = kernel_paths_by_name().find(name);
        if (found == kernel_paths_by_name().end()) {
            std::fprintf(stderr, "projection_bench: unknown kernel path %s\n", name.c_str());
            return 2;
        }
        const KernelPath path = found->second;
        if (const std::string why = kernel_path_unavailable_reason(path); !why.empty()) {
            std::printf("kernels=%s not_run=\"%s\"\n", name.c_str(), why.c_str());
            continue;
        }
        const double forward = best_seconds(ctx.get(), projection(ctx.get(), weight, x, path), o);
        const double backward =
            best_seconds(ctx.get(), projection_input_gradient(ctx.get(), weight, g, path), o);
        std::printf("kernels=%s wx_gflops=%.1f wtg_gflops=%.1f\n", name.c_str(), flops / forward * 1e-9,
                    flops / backward * 1e-9);
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace
}  // namespace mimir

int main(int argc, char** argv) {
    mimir::BenchOptions o;
    CLI::App app{"GFLOP/s of the frozen-weight products per kernel path"};
    app.add_option("--n-in", o.n_in, "Columns of W")->capture_default_str();
    app.add_option("--n-out", o.n_out, "Rows of W")->capture_default_str();
    app.add_option("--tokens", o.n_tokens, "Tokens multiplied at once")->capture_default_str();
    app.add_option("--threads", o.n_threads, "CPU threads")->capture_default_str();
    app.add_option("--repetitions", o.repetitions, "Timed runs per product (best kept)")
        ->capture_default_str();
    app.add_option("--type", o.type, "Weight type (ggml name: q4_K, q6_K, q8_0, f16, f32)")
        ->capture_default_str();
    app.add_option("--kernels", o.kernels, "Kernel paths to measure")->delimiter(',')->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    return mimir::run(o);
}
