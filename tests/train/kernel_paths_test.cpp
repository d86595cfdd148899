// The kernel paths inside training: LoRA gradients and a short run's loss curve with the BF16 paths match
// the F32 path's; the AVX2 path, forced, trains like the AVX-512 one; `auto` and a forced path that cannot
// run resolve as documented (train/projection_kernels.h). Paths this CPU lacks are skipped, naming why.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "train/lora.h"
#include "train/trainer.h"
#include "train/training_graph.h"
#include "train_test_support.h"

namespace mimir {
namespace {

// 256 wide so the projections are stored as Q4_K / Q6_K (K-quants need rows divisible by 256).
std::string quantized_model() {
    TinyModelSpec spec = test::small_training_spec("phi3", "q4_k_m");
    spec.n_embd = 256;
    spec.n_ff = 256;
    return test::tiny_model_path(spec);
}

#define SKIP_UNLESS_AVAILABLE(path)                                                 \
    if (const std::string why = kernel_path_unavailable_reason(path); !why.empty()) \
    GTEST_SKIP() << "kernels " << kernel_path_name(path) << " not run: " << why

// Every LoRA gradient of one sequence with the frozen weights' products on `path`.
std::vector<std::vector<float>> lora_gradients(KernelPath path) {
    const std::string model_path = quantized_model();
    const std::string adapter_path = test::scratch_dir() + "/adapter.gguf";
    EXPECT_TRUE(write_random_lora_adapter(model_path, 8, 16.0f, 5, adapter_path).ok());
    auto model = test::value_of(load_base_model(model_path));
    auto adapter = test::value_of(load_lora(adapter_path, *model));  // B non-zero: A gets a gradient too
    TrainingGraph graph(*model, adapter.get(), adapter->parameters(), 2);
    graph.set_kernel_path(path);
    const TokenSequence sequence{
        {1,     32010, 15043, 29991, 32007, 32001, 6324,  29892, 306,  626, 17048, 29889,
         32007, 1724,  338,   263,   2286,  29973, 29871, 13,    4013, 30,  1111,  32007},
        6};
    test::value_of(graph.accumulate_gradients(sequence));
    std::vector<std::vector<float>> gradients;
    for (size_t i = 0; i < graph.parameters().size(); ++i) {
        const auto* g = static_cast<const float*>(graph.gradient(i)->data);
        gradients.emplace_back(g, g + ggml_nelements(graph.parameters()[i]));
    }
    return gradients;
}

// Largest over tensors of |a - b| / |b| (Euclidean norms).
double worst_relative_difference(const std::vector<std::vector<float>>& a,
                                 const std::vector<std::vector<float>>& b) {
    double worst = 0;
    for (size_t t = 0; t < a.size(); ++t) {
        double diff = 0, norm = 0;
        for (size_t i = 0; i < a[t].size(); ++i) {
            diff += std::pow(double(a[t][i]) - b[t][i], 2);
            norm += std::pow(double(b[t][i]), 2);
        }
        worst = std::max(worst, std::sqrt(diff / norm));
    }
    return worst;
}

// Stated tolerances for whole gradients. Each BF16 product is off by at most ~2^-7 of the sum of its
// terms' magnitudes (projection_ops_test); a LoRA gradient in this 2-layer model passes through at most
// 18 frozen products (4 per layer and the head, forward and backward), so to first order its relative
// error stays below 18 * 2^-7 = 0.14; independent roundings add up far less, and the test holds them to
// 0.05. Two F32 paths differ only in summation order: 1e-4.
constexpr double kBf16GradientTolerance = 0.05;
constexpr double kF32GradientTolerance = 1e-4;

TEST(KernelPaths, LoraGradientsOfBf16PathsMatchTheF32Path) {
    const std::vector<std::vector<float>> f32 = lora_gradients(KernelPath::Generic);
    for (KernelPath path : {KernelPath::Avx512, KernelPath::Avx2}) {
        if (!kernel_path_available(path)) continue;
        const double difference = worst_relative_difference(lora_gradients(path), f32);
        std::printf("[ measured ] LoRA gradients %s vs generic: worst relative difference %.3g\n",
                    kernel_path_name(path).c_str(), difference);
        EXPECT_LE(difference, kF32GradientTolerance) << kernel_path_name(path);
    }
    int compared = 0;
    for (KernelPath path : {KernelPath::Amx, KernelPath::Avx512Bf16}) {
        if (!kernel_path_available(path)) {
            std::printf("[ skipped  ] %s: %s\n", kernel_path_name(path).c_str(),
                        kernel_path_unavailable_reason(path).c_str());
            continue;
        }
        const double difference = worst_relative_difference(lora_gradients(path), f32);
        std::printf("[ measured ] LoRA gradients %s vs F32: worst relative difference %.3g\n",
                    kernel_path_name(path).c_str(), difference);
        EXPECT_LE(difference, kBf16GradientTolerance) << kernel_path_name(path);
        EXPECT_GT(difference, 0.0) << "a BF16 path gave F32's exact gradients: did it run?";
        ++compared;
    }
    if (compared == 0) GTEST_SKIP() << "this CPU runs no BF16 path (amx, avx512bf16)";
}

// Step losses of a short LoRA run (train_log.csv's loss column) with the frozen products on `path`.
std::vector<float> loss_curve(KernelPath path) {
    TrainOptions o;
    const std::string dir = test::scratch_dir() + "/" + kernel_path_name(path);
    o.data_path = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv";
    o.base_path = quantized_model();
    o.out_dir = dir;
    o.epochs = 2;
    o.grad_accumulation = 2;
    o.learning_rate = 1e-2f;
    o.n_ctx = 160;
    o.system_prompt = "";
    o.n_threads = 2;
    o.quiet = true;
    o.write_merged = false;
    o.kernels = path;
    test::value_of(run_training(o));
    std::ifstream log(dir + "/train_log.csv");
    std::string line;
    std::getline(log, line);  // step,epoch,lr,loss,grad_norm,tokens_per_s,skipped
    std::vector<float> losses;
    while (std::getline(log, line)) {
        std::stringstream fields(line);
        std::string field;
        for (int i = 0; i < 4; ++i) std::getline(fields, field, ',');
        losses.push_back(std::stof(field));
    }
    return losses;
}

// Worst |a - b| / b over the steps.
double worst_relative_step_difference(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / b[i]);
    return worst;
}

// A loss is a mean of log-probabilities: BF16 products move it by far less than the gradients' tolerance,
// but the steps compound; stated: every step's loss within 2% of the F32 run's, and the curve falls alike.
constexpr double kBf16LossTolerance = 0.02;

TEST(KernelPaths, ShortRunLossCurveOfBf16PathsMatchesTheF32Path) {
    const KernelPath f32_path = best_f32_kernel_path();
    const std::vector<float> f32 = loss_curve(f32_path);
    ASSERT_GE(f32.size(), 4u);
    int compared = 0;
    for (KernelPath path : {KernelPath::Amx, KernelPath::Avx512Bf16}) {
        if (!kernel_path_available(path)) continue;
        const std::vector<float> bf16 = loss_curve(path);
        const double difference = worst_relative_step_difference(bf16, f32);
        std::printf(
            "[ measured ] %zu step losses, %s vs %s: worst relative difference %.3g (first %.4f/%.4f, "
            "last %.4f/%.4f)\n",
            f32.size(), kernel_path_name(path).c_str(), kernel_path_name(f32_path).c_str(), difference,
            bf16.front(), f32.front(), bf16.back(), f32.back());
        EXPECT_LE(difference, kBf16LossTolerance);
        ++compared;
    }
    if (compared == 0) GTEST_SKIP() << "this CPU runs no BF16 path (amx, avx512bf16)";
}

TEST(KernelPaths, ForcedAvx2TrainsLikeTheAvx512Path) {
    SKIP_UNLESS_AVAILABLE(KernelPath::Avx2);
    SKIP_UNLESS_AVAILABLE(KernelPath::Avx512);
    // Both F32: the same sums in another order, so the curves agree to F32 rounding amplified by training.
    const double difference =
        worst_relative_step_difference(loss_curve(KernelPath::Avx2), loss_curve(KernelPath::Avx512));
    std::printf("[ measured ] step losses avx2 vs avx512: worst relative difference %.3g\n", difference);
    EXPECT_LE(difference, 1e-3);
}

TEST(KernelPaths, AutoPicksTheFirstAvailablePathInOrder) {
    const KernelPath chosen = test::value_of(resolve_kernel_path(KernelPath::Auto));
    for (KernelPath better :
         {KernelPath::Amx, KernelPath::Avx512Bf16, KernelPath::Avx512, KernelPath::Avx2}) {
        if (better == chosen) break;
        EXPECT_FALSE(kernel_path_available(better))
            << kernel_path_name(better) << " runs but auto took " << kernel_path_name(chosen);
    }
    EXPECT_TRUE(kernel_path_available(chosen));
    EXPECT_TRUE(kernel_path_available(KernelPath::Generic));
    EXPECT_FALSE(kernel_path_is_bf16(best_f32_kernel_path()));
}

TEST(KernelPaths, ForcingAPathThisCpuLacksIsAClearError) {
    int refused = 0;
    for (const auto& [name, path] : kernel_paths_by_name()) {
        const std::string why = kernel_path_unavailable_reason(path);
        if (why.empty()) continue;
        const Result<KernelPath> resolved = resolve_kernel_path(path);
        ASSERT_FALSE(resolved.ok()) << name;
        EXPECT_EQ(resolved.error().code, "kernels_unavailable");
        EXPECT_NE(resolved.error().message.find(name), std::string::npos) << resolved.error().message;
        EXPECT_NE(resolved.error().message.find(why), std::string::npos) << resolved.error().message;
        // A run asked to use it stops before loading anything.
        TrainOptions o;
        o.data_path = "unused.csv";
        o.base_path = "unused.gguf";
        o.out_dir = test::scratch_dir();
        o.kernels = path;
        const Result<TrainSummary> run = run_training(o);
        ASSERT_FALSE(run.ok());
        EXPECT_EQ(run.error().code, "kernels_unavailable");
        ++refused;
    }
    if (refused == 0) GTEST_SKIP() << "this CPU runs every kernel path";
}

}  // namespace
}  // namespace mimir
