// A frozen base stored as F16, Q8_0 or Q4_K_M: the training graph matches llama.cpp's logits on it
// (same ggml kernels on both sides) and LoRA training on it lowers the loss.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "train/trainer.h"
#include "train/training_graph.h"
#include "train_test_support.h"

namespace mimir {
namespace {

// 256 wide so Q4_K/Q5_K/Q6_K apply to the projections (K-quants need rows divisible by 256).
TinyModelSpec quantized_spec(const std::string& type) {
    TinyModelSpec spec = test::small_training_spec("phi3", type);
    spec.n_embd = 256;
    spec.n_ff = 256;
    return spec;
}

class QuantizedBase : public ::testing::TestWithParam<std::string> {};

TEST_P(QuantizedBase, ForwardLogitsMatchLlamaCppAndLoraTrains) {
    const std::string path = test::tiny_model_path(quantized_spec(GetParam()));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    EXPECT_NE((*model)->blocks[0].attn_qkv->type, GGML_TYPE_F32);
    const std::vector<int32_t> tokens = {1, 32010, 15043, 29991, 32007, 32001, 6324, 29892, 306, 626};
    TrainingGraph graph(**model, nullptr, {}, 1);
    const std::vector<float> ours = test::value_of(graph.logits(tokens));
    // The reference: llama.cpp on the same weights dequantized to F32 by its own llama-quantize. Mimir's
    // training ops multiply dequantized weights in F32 (train/projection_ops.h), while llama.cpp on the
    // quantized file rounds activations to 8 bits for its integer dot products (~1% of the logits' scale
    // on this random model), so the F32 copy is the like-for-like check. Stated tolerance: 1e-4.
    const std::string dequantized = test::scratch_dir() + "/dequantized-f32.gguf";
    std::string output;
    ASSERT_EQ(test::run_command(test::llama_tool("llama-quantize") + " --allow-requantize " + path + " " +
                                    dequantized + " F32",
                                output),
              0)
        << output;
    const float diff = test::max_abs_diff(ours, test::llama_logits(dequantized, tokens));
    std::printf(
        "[ measured ] %s base: forward logits max abs diff vs llama.cpp on its F32 dequantization %.3g\n",
        GetParam().c_str(), diff);
    EXPECT_LT(diff, 1e-4f);

    TrainOptions o;
    const std::string dir = test::scratch_dir();
    o.data_path = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv";
    o.base_path = path;
    o.out_dir = dir;
    o.epochs = 2;
    o.grad_accumulation = 4;
    o.learning_rate = 1e-2f;
    o.n_ctx = 160;
    o.system_prompt = "";  // the sample rows alone fit --ctx 160
    o.n_threads = 1;
    o.quiet = true;
    Result<TrainSummary> summary = run_training(o);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    std::printf("[ measured ] %s base: eval loss %.4f after %d steps\n", GetParam().c_str(),
                summary->best_eval_loss, summary->steps);
    EXPECT_EQ(summary->skipped_steps, 0);
    EXPECT_TRUE(std::isfinite(summary->last_loss));
    std::ifstream log(dir + "/eval_log.csv");
    std::string header, first, second;
    std::getline(log, header);
    std::getline(log, first);
    std::getline(log, second);
    const float first_loss = std::stof(first.substr(first.rfind(',') + 1));
    const float second_loss = std::stof(second.substr(second.rfind(',') + 1));
    EXPECT_LT(second_loss, first_loss) << "eval loss did not fall";
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizedBase, ::testing::Values("f16", "q8_0", "q4_k_m"));

}  // namespace
}  // namespace mimir
