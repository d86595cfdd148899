#include "train/training_graph.h"

#include <gtest/gtest.h>

#include <cmath>

#include "train/lora.h"
#include "train_test_support.h"

namespace mimir {
namespace {

// Stated tolerance: F32 weights, F32 KV cache and no flash attention on the llama.cpp side (flash
// attention rounds through F16: ~3e-4 then), so differences are F32 rounding only (measured ~1e-7).
constexpr float kLogitTolerance = 1e-5f;

std::vector<int32_t> sample_tokens() {
    return {1, 32010, 15043, 29991, 32007, 32001, 6324, 29892, 306, 626, 17048, 29889};
}

class TrainingGraphTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainingGraphTest, ForwardLogitsMatchLlamaCpp) {
    const std::string path = test::tiny_model_path(test::small_training_spec(GetParam()));
    Result<std::unique_ptr<BaseModel>> model = load_base_model(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    TrainingGraph graph(**model, nullptr, {}, 2);
    const std::vector<float> ours = test::value_of(graph.logits(sample_tokens()));
    const std::vector<float> reference = test::llama_logits(path, sample_tokens());
    ASSERT_EQ(ours.size(), reference.size());
    const float diff = test::max_abs_diff(ours, reference);
    std::printf("[ measured ] %s forward logits max abs diff vs llama.cpp: %.3g\n", GetParam().c_str(), diff);
    EXPECT_LT(diff, kLogitTolerance);
}

TEST_P(TrainingGraphTest, ForwardLogitsWithAdapterMatchLlamaCpp) {
    const std::string path = test::tiny_model_path(test::small_training_spec(GetParam()));
    const std::string adapter_path = test::scratch_dir() + "/random-adapter.gguf";
    ASSERT_TRUE(write_random_lora_adapter(path, 4, 8.0f, 3, adapter_path).ok());
    Result<std::unique_ptr<BaseModel>> model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    Result<std::unique_ptr<LoraAdapter>> adapter = load_lora(adapter_path, **model);
    ASSERT_TRUE(adapter.ok()) << adapter.error().message;
    TrainingGraph graph(**model, adapter->get(), {}, 2);
    const std::vector<float> ours = test::value_of(graph.logits(sample_tokens()));
    const std::vector<float> reference = test::llama_logits(path, sample_tokens(), adapter_path);
    const std::vector<float> base_only = test::llama_logits(path, sample_tokens());
    const float diff = test::max_abs_diff(ours, reference);
    std::printf(
        "[ measured ] %s logits with adapter max abs diff vs llama.cpp: %.3g (adapter moves logits by "
        "%.3g)\n",
        GetParam().c_str(), diff, test::max_abs_diff(reference, base_only));
    EXPECT_LT(diff, kLogitTolerance);
    EXPECT_GT(test::max_abs_diff(reference, base_only), 10 * kLogitTolerance);
}

INSTANTIATE_TEST_SUITE_P(Architectures, TrainingGraphTest, ::testing::Values("phi3", "llama"));

}  // namespace
}  // namespace mimir
