// Token counts for budgets: the loaded model's tokenizer and a vocabulary-only load agree with each other
// and with tokenizing the text directly.
#include "model/token_counter.h"

#include <gtest/gtest.h>

#include "loaded_tiny_model.h"
#include "model/chat_prompt.h"
#include "support/test_models.h"

namespace mimir {
namespace {

const std::vector<std::string> kTexts = {"", "Hello!", "What is 3/4 of 12? Show me the first step.",
                                         "Réponds en français, s'il te plaît : ça va ?"};

TEST(TokenCounter, MatchesTheTokenizerWithoutSpecialTokens) {
    std::shared_ptr<const LoadedModel> model = test::loaded_tiny_model();
    const TokenCounter count = token_counter_of(model);
    for (const std::string& text : kTexts) {
        // tokenize() adds the BOS token the vocabulary asks for; a content count must not.
        std::vector<llama_token> expected = tokenize(model->vocab(), text);
        const bool bos = llama_vocab_get_add_bos(model->vocab()) && !expected.empty() &&
                         expected.front() == llama_vocab_bos(model->vocab());
        EXPECT_EQ(count(text), static_cast<int>(expected.size()) - (bos ? 1 : 0)) << text;
    }
    EXPECT_GT(count(kTexts[2]), count(kTexts[1]));
}

TEST(TokenCounter, VocabularyOnlyLoadCountsTheSame) {
    Result<TokenCounter> vocabulary = vocabulary_token_counter(test::tiny_model_path());
    ASSERT_TRUE(vocabulary.ok()) << vocabulary.error().message;
    const TokenCounter loaded = token_counter_of(test::loaded_tiny_model());
    for (const std::string& text : kTexts) EXPECT_EQ((*vocabulary)(text), loaded(text)) << text;
}

TEST(TokenCounter, UnreadableFileIsNamed) {
    const std::string path = test::scratch_dir() + "/not-a-model.gguf";
    FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs("plain text", file);
    std::fclose(file);
    Result<TokenCounter> counter = vocabulary_token_counter(path);
    ASSERT_FALSE(counter.ok());
    EXPECT_EQ(counter.error().code, "not_gguf");
    EXPECT_NE(counter.error().message.find(path), std::string::npos);
}

}  // namespace
}  // namespace mimir
