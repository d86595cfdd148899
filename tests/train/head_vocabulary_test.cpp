// The restricted head (TrainingGraph::set_head_vocabulary): on a model whose left-out output rows are zero,
// the loss and every gradient but those rows' equal the full vocabulary's; the left-out rows get none.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "support/system.h"
#include "train/lora.h"
#include "train/training_graph.h"
#include "train_test_support.h"

namespace mimir {
namespace {

TokenSequence sample_sequence() {
    return {{1, 32010, 15043, 29991, 32007, 32001, 6324, 29892, 306, 626, 17048, 29889, 32007}, 6};
}

// The sequence's reply labels plus a few other ids, some of them kept non-zero but never a label.
std::vector<int32_t> kept_rows() {
    std::vector<int32_t> kept = {6324, 29892, 306, 626, 17048, 29889, 32007, 100, 2000, 31000};
    std::sort(kept.begin(), kept.end());
    return kept;
}

void zero_rows_except(ggml_tensor* t, const std::vector<int32_t>& kept) {
    const std::set<int32_t> keep(kept.begin(), kept.end());
    for (int64_t row = 0; row < t->ne[1]; ++row) {
        if (!keep.count(static_cast<int32_t>(row)))
            std::memset(static_cast<uint8_t*>(t->data) + row * t->nb[1], 0, t->nb[1]);
    }
}

std::vector<float> gradient_of(const TrainingGraph& graph, size_t i) {
    const float* g = static_cast<const float*>(graph.gradient(i)->data);
    return std::vector<float>(g, g + ggml_nelements(graph.parameters()[i]));
}

// Runs the same sequence through the full and the restricted head; compares loss and gradients. For the
// tensors in `row_indexed` (the output weight, an adapter's B on it), only the kept rows are compared and
// the other rows' gradients must be exactly zero in the restricted run.
void expect_same_as_full_head(TrainingGraph& graph, const std::vector<const ggml_tensor*>& row_indexed) {
    const TokenSequence sequence = sample_sequence();
    graph.zero_gradients();
    const float full_loss = test::value_of(graph.accumulate_gradients(sequence));
    std::vector<std::vector<float>> full;
    for (size_t i = 0; i < graph.parameters().size(); ++i) full.push_back(gradient_of(graph, i));

    graph.set_head_vocabulary(kept_rows());
    EXPECT_EQ(graph.head_vocabulary_size(), static_cast<int64_t>(kept_rows().size()));
    graph.zero_gradients();
    EXPECT_NEAR(test::value_of(graph.accumulate_gradients(sequence)), full_loss, 1e-5f * full_loss);
    const std::vector<int32_t> kept_list = kept_rows();
    const std::set<int32_t> kept(kept_list.begin(), kept_list.end());
    float largest = 0, worst = 0;
    for (size_t i = 0; i < full.size(); ++i) {
        const ggml_tensor* p = graph.parameters()[i];
        const bool by_row = std::count(row_indexed.begin(), row_indexed.end(), p) > 0;
        const std::vector<float> restricted = gradient_of(graph, i);
        for (size_t j = 0; j < restricted.size(); ++j) {
            const auto row = static_cast<int32_t>(static_cast<int64_t>(j) / p->ne[0]);
            if (by_row && !kept.count(row)) {
                ASSERT_EQ(restricted[j], 0.0f) << ggml_get_name(p) << " row " << row;
                continue;
            }
            largest = std::max(largest, std::fabs(full[i][j]));
            worst = std::max(worst, std::fabs(full[i][j] - restricted[j]));
        }
    }
    std::printf("[ measured ] restricted head: max gradient difference %.3g (largest gradient %.3g)\n", worst,
                largest);
    EXPECT_GT(largest, 0.0f);
    EXPECT_LE(worst, 1e-4f * largest);
}

TEST(HeadVocabulary, FullTrainingMatchesTheFullHeadWhenLeftOutRowsAreZero) {
    const std::string path = test::tiny_model_path(test::small_training_spec("phi3"));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    ASSERT_NE((*model)->output, (*model)->token_embd);
    zero_rows_except((*model)->output, kept_rows());
    EXPECT_EQ(output_rows_in_use(**model, nullptr), kept_rows());
    std::vector<ggml_tensor*> every_tensor;
    for (int64_t i = 0; i < gguf_get_n_tensors((*model)->gguf.get()); ++i)
        every_tensor.push_back((*model)->find(gguf_get_tensor_name((*model)->gguf.get(), i)));
    TrainingGraph graph(**model, nullptr, every_tensor, 2);
    expect_same_as_full_head(graph, {(*model)->output});
}

TEST(HeadVocabulary, AdapterOnTheHeadMatchesTheFullHead) {
    const std::string path = test::tiny_model_path(test::small_training_spec("phi3"));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    auto targets = select_lora_targets(**model, {"all", "output"});
    ASSERT_TRUE(targets.ok()) << targets.error().message;
    auto adapter = create_lora(**model, *targets, 2, 4.0f, 7);
    ASSERT_TRUE(adapter.ok()) << adapter.error().message;
    SplitMix64 random(11);  // B starts at zero: give it noise so the adapter changes the logits
    for (ggml_tensor* p : (*adapter)->parameters()) {
        float* values = ggml_get_data_f32(p);
        for (int64_t i = 0; i < ggml_nelements(p); ++i)
            values[i] = static_cast<float>(random.unit() - 0.5) * 0.2f;
    }
    const LoraPair* head = (*adapter)->find((*model)->output);
    ASSERT_NE(head, nullptr);
    zero_rows_except((*model)->output, kept_rows());
    EXPECT_EQ(output_rows_in_use(**model, adapter->get()).size(),
              static_cast<size_t>((*model)->output->ne[1]))
        << "B's rows are random: every row is in use";
    zero_rows_except(head->b, kept_rows());
    EXPECT_EQ(output_rows_in_use(**model, adapter->get()), kept_rows());
    TrainingGraph graph(**model, adapter->get(), (*adapter)->parameters(), 2);
    expect_same_as_full_head(graph, {head->b});
}

TEST(HeadVocabulary, WholeVocabularyLeavesTheHeadUnrestricted) {
    const std::string path = test::tiny_model_path(test::small_training_spec("phi3"));
    auto model = load_base_model(path);
    ASSERT_TRUE(model.ok());
    TrainingGraph graph(**model, nullptr, {(*model)->output_norm}, 2);
    graph.set_head_vocabulary(output_rows_in_use(**model, nullptr));  // random weights: every row
    EXPECT_EQ(graph.head_vocabulary_size(), (*model)->shape.n_vocab);
}

}  // namespace
}  // namespace mimir
