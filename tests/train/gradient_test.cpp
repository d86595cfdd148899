// Gradients of the training graph against central finite differences of its own loss, for LoRA tensors
// and for base tensors (full fine-tuning), on both architectures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "train/lora.h"
#include "train/training_graph.h"
#include "train_test_support.h"

namespace mimir {
namespace {

TokenSequence sample_sequence() {
    return {{1, 32010, 15043, 29991, 32007, 32001, 6324, 29892, 306, 626, 17048, 29889, 32007}, 6};
}

// Stated tolerance: |analytic - numeric| <= 2% of |analytic| + 2e-4 (F32 loss, step 1e-2).
constexpr float kRelative = 0.02f;
constexpr float kAbsolute = 2e-4f;

// Checks the `n_check` largest-gradient elements of every parameter plus a few fixed ones.
void expect_gradients_match(TrainingGraph& graph, const TokenSequence& sequence, int n_check) {
    graph.zero_gradients();
    test::value_of(graph.accumulate_gradients(sequence));
    float worst = 0.0f;
    int checked = 0;
    for (size_t p = 0; p < graph.parameters().size(); ++p) {
        ggml_tensor* param = graph.parameters()[p];
        const float* grad = static_cast<const float*>(graph.gradient(p)->data);
        const int64_t n = ggml_nelements(param);
        std::vector<int64_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + std::min<int64_t>(n_check, n), order.end(),
                          [&](int64_t a, int64_t b) { return std::fabs(grad[a]) > std::fabs(grad[b]); });
        order.resize(static_cast<size_t>(std::min<int64_t>(n_check, n)));
        order.push_back(n / 3);
        float* w = static_cast<float*>(param->data);
        for (int64_t i : order) {
            const float eps = 1e-2f;
            const float saved = w[i];
            w[i] = saved + eps;
            const float up = test::value_of(graph.loss(sequence));
            w[i] = saved - eps;
            const float down = test::value_of(graph.loss(sequence));
            w[i] = saved;
            const float numeric = (up - down) / (2 * eps);
            const float error = std::fabs(numeric - grad[i]);
            worst = std::max(worst, error);
            ++checked;
            EXPECT_LE(error, kRelative * std::fabs(grad[i]) + kAbsolute)
                << ggml_get_name(param) << "[" << i << "] analytic " << grad[i] << " numeric " << numeric;
        }
    }
    std::printf("[ measured ] %d gradient elements, max |analytic - numeric| = %.3g\n", checked, worst);
}

class GradientTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GradientTest, LoraGradientsMatchFiniteDifferences) {
    const std::string path = test::tiny_model_path(test::small_training_spec(GetParam()));
    const std::string adapter_path = test::scratch_dir() + "/adapter.gguf";
    ASSERT_TRUE(write_random_lora_adapter(path, 2, 4.0f, 5, adapter_path).ok());
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    auto adapter = load_lora(adapter_path, **model);  // B is non-zero, so A gets a gradient too
    ASSERT_TRUE(adapter.ok());
    TrainingGraph graph(**model, adapter->get(), (*adapter)->parameters(), 2);
    expect_gradients_match(graph, sample_sequence(), 2);
}

TEST_P(GradientTest, BaseGradientsMatchFiniteDifferencesIncludingKeyAndValueRows) {
    const std::string path = test::tiny_model_path(test::small_training_spec(GetParam()));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    const BlockWeights& block = (*model)->blocks[0];
    std::vector<ggml_tensor*> params = {block.attn_norm, block.attn_output, block.ffn_up, block.ffn_down,
                                        (*model)->output_norm};
    for (ggml_tensor* t : {block.attn_qkv, block.attn_k, block.attn_v, block.ffn_gate}) {
        if (t) params.push_back(t);
    }
    TrainingGraph graph(**model, nullptr, params, 2);
    expect_gradients_match(graph, sample_sequence(), 2);
    if (block.attn_qkv) {
        // K and V rows of the fused projection get a gradient (llama.cpp's own training cuts it).
        const size_t qkv = std::find(params.begin(), params.end(), block.attn_qkv) - params.begin();
        const float* grad = static_cast<const float*>(graph.gradient(qkv)->data);
        const int64_t n_embd = (*model)->shape.n_embd;
        double kv_norm = 0;
        for (int64_t row = n_embd; row < block.attn_qkv->ne[1]; ++row) {
            for (int64_t i = 0; i < n_embd; ++i) kv_norm += std::fabs(grad[row * n_embd + i]);
        }
        EXPECT_GT(kv_norm, 0.0);
    }
}

INSTANTIATE_TEST_SUITE_P(Architectures, GradientTest, ::testing::Values("phi3", "llama"));

TEST(ReplyOnlyLoss, LossIsTheMeanCrossEntropyOfReplyTokensOnly) {
    const std::string path = test::tiny_model_path(test::small_training_spec("phi3"));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    const TokenSequence sequence = sample_sequence();
    TrainingGraph graph(**model, nullptr, {(*model)->output_norm}, 2);
    const std::vector<float> logits = test::value_of(graph.logits(sequence.tokens));
    const size_t n_vocab = logits.size() / sequence.tokens.size();
    double expected = 0;
    for (size_t pos = sequence.n_prompt - 1; pos + 1 < sequence.tokens.size(); ++pos) {
        const float* row = &logits[pos * n_vocab];
        const float top = *std::max_element(row, row + n_vocab);
        double sum = 0;
        for (size_t j = 0; j < n_vocab; ++j) sum += std::exp(row[j] - top);
        expected -= row[sequence.tokens[pos + 1]] - top - std::log(sum);
    }
    expected /= sequence.n_targets();
    EXPECT_NEAR(test::value_of(graph.accumulate_gradients(sequence)), expected, 1e-4);

    // Moving the reply start changes the loss and its gradient: prompt positions are truly unmasked
    // only when they are reply positions.
    std::vector<float> grad_a(static_cast<const float*>(graph.gradient(0)->data),
                              static_cast<const float*>(graph.gradient(0)->data) + 64);
    graph.zero_gradients();
    TokenSequence longer_prompt = sequence;
    longer_prompt.n_prompt += 2;
    test::value_of(graph.accumulate_gradients(longer_prompt));
    std::vector<float> grad_b(static_cast<const float*>(graph.gradient(0)->data),
                              static_cast<const float*>(graph.gradient(0)->data) + 64);
    EXPECT_GT(test::max_abs_diff(grad_a, grad_b), 1e-6f);
}

std::vector<float> gradient_copy(const TrainingGraph& graph, size_t i) {
    const float* g = static_cast<const float*>(graph.gradient(i)->data);
    return std::vector<float>(g, g + ggml_nelements(graph.parameters()[i]));
}

TEST(ReplyOnlyLoss, PromptLabelsHaveNoEffectOnGradients) {
    const std::string path = test::tiny_model_path(test::small_training_spec("phi3"));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    TrainingGraph graph(**model, nullptr, {(*model)->blocks[0].attn_qkv, (*model)->blocks[1].ffn_down}, 2);
    TokenSequence sequence = sample_sequence();
    for (size_t i = 0; i + 1 < sequence.tokens.size(); ++i) sequence.labels.push_back(sequence.tokens[i + 1]);
    graph.zero_gradients();
    test::value_of(graph.accumulate_gradients(sequence));
    const std::vector<float> reference = gradient_copy(graph, 0);

    TokenSequence changed_prompt_label = sequence;
    changed_prompt_label.labels[2] = 555;  // a prompt position: masked
    graph.zero_gradients();
    test::value_of(graph.accumulate_gradients(changed_prompt_label));
    EXPECT_EQ(test::max_abs_diff(reference, gradient_copy(graph, 0)), 0.0f);

    TokenSequence changed_reply_label = sequence;
    changed_reply_label.labels[sequence.n_prompt + 1] = 555;  // a reply position: the control
    graph.zero_gradients();
    test::value_of(graph.accumulate_gradients(changed_reply_label));
    EXPECT_GT(test::max_abs_diff(reference, gradient_copy(graph, 0)), 1e-6f);
}

// Recomputing layer by layer must give the gradients (and loss) of the whole graph, whichever tensors are
// trained: every layer's adapter, every base tensor including embeddings and head, one middle layer only
// (backward stops there), or the head only (no layer is revisited).
class LayerRecomputationTest : public ::testing::TestWithParam<std::string> {};

void expect_same_gradients(TrainingGraph& graph, const TokenSequence& sequence) {
    graph.set_recompute_layers(0);
    graph.zero_gradients();
    const float whole_loss = test::value_of(graph.accumulate_gradients(sequence));
    std::vector<std::vector<float>> whole;
    for (size_t i = 0; i < graph.parameters().size(); ++i) whole.push_back(gradient_copy(graph, i));
    float largest = 0;
    for (const std::vector<float>& g : whole) {
        for (float v : g) largest = std::max(largest, std::fabs(v));
    }
    EXPECT_GT(largest, 0.0f);
    for (int recomputed = 1; recomputed <= 2; ++recomputed) {  // the test models have 2 layers
        graph.set_recompute_layers(recomputed);
        graph.zero_gradients();
        EXPECT_NEAR(test::value_of(graph.accumulate_gradients(sequence)), whole_loss, 1e-6);
        float worst = 0;
        for (size_t i = 0; i < whole.size(); ++i)
            worst = std::max(worst, test::max_abs_diff(whole[i], gradient_copy(graph, i)));
        EXPECT_LE(worst, 1e-5f * largest) << recomputed << " layers recomputed; largest gradient " << largest;
    }
}

TEST_P(LayerRecomputationTest, SameGradientsAsTheWholeGraph) {
    const std::string path = test::tiny_model_path(test::small_training_spec(GetParam()));
    const std::string adapter_path = test::scratch_dir() + "/adapter.gguf";
    ASSERT_TRUE(write_random_lora_adapter(path, 2, 4.0f, 5, adapter_path).ok());
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    auto adapter = load_lora(adapter_path, **model);
    ASSERT_TRUE(adapter.ok());
    const TokenSequence sequence = sample_sequence();
    {
        SCOPED_TRACE("adapter on every layer");
        TrainingGraph graph(**model, adapter->get(), (*adapter)->parameters(), 2);
        expect_same_gradients(graph, sequence);
    }
    std::vector<ggml_tensor*> every_tensor;
    for (int64_t i = 0; i < gguf_get_n_tensors((*model)->gguf.get()); ++i) {
        every_tensor.push_back((*model)->find(gguf_get_tensor_name((*model)->gguf.get(), i)));
    }
    const std::vector<std::pair<const char*, std::vector<ggml_tensor*>>> cases = {
        {"every base tensor", every_tensor},
        {"the last layer only", {(*model)->blocks.back().ffn_down, (*model)->blocks.back().attn_norm}},
        {"the head only", {(*model)->output_norm}},
    };
    for (const auto& [name, params] : cases) {
        SCOPED_TRACE(name);
        TrainingGraph graph(**model, nullptr, params, 2);
        expect_same_gradients(graph, sequence);
    }
}

INSTANTIATE_TEST_SUITE_P(Architectures, LayerRecomputationTest, ::testing::Values("phi3", "llama"));

}  // namespace
}  // namespace mimir
