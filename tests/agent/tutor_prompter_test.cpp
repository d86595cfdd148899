#include "agent/tutor_prompter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/dataset_checks.h"  // count_words: words stand in for tokens here
#include "support/test_models.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

// identity (always, 4 words), math (4 words, label math), essay (6 words, label writing), again (3 words,
// the follow-up label), and a classifier that separates the three labels by their words.
struct ToySetup {
    SnippetLibrary library;
    SnippetClassifier classifier;
};

ToySetup toy_setup() {
    const fs::path dir = test::scratch_dir();
    std::ofstream(dir / "identity.txt") << "You are a tutor.";
    std::ofstream(dir / "math.txt") << "Work step by step.";
    std::ofstream(dir / "essay.txt") << "Give feedback on the thesis first.";
    std::ofstream(dir / "again.txt") << "Explain it again.";
    std::ofstream(dir / "manifest.json") << R"({"format": "mimir-prompt-snippets", "version": 1,
        "labels": ["math", "writing", "confused"], "follow_up_labels": ["confused"],
        "snippets": [
          {"name": "identity", "file": "identity.txt", "always": true},
          {"name": "essay", "file": "essay.txt", "order": 2, "labels": ["writing"]},
          {"name": "math", "file": "math.txt", "order": 1, "labels": ["math"]},
          {"name": "again", "file": "again.txt", "order": 3, "labels": ["confused"]}]})";
    Result<SnippetLibrary> library = load_snippet_library(dir.string(), count_words, 100);
    EXPECT_TRUE(library) << library.error().message;
    std::vector<LabelledPrompt> rows;
    for (const char* text : {"solve the equation", "what is 3 times 4", "add these fractions", "solve for x"})
        rows.push_back({text, "math"});
    for (const char* text : {"check my essay", "my essay thesis", "grammar in my paragraph", "essay outline"})
        rows.push_back({text, "writing"});
    for (const char* text : {"I don't get it", "huh", "I don't understand", "confused, explain"})
        rows.push_back({text, "confused"});
    return {std::move(*library), SnippetClassifier::train(rows)};
}

TutorPrompter toy_prompter(int budget, double threshold = 0.2) {
    ToySetup setup = toy_setup();
    Result<TutorPrompter> prompter =
        TutorPrompter::from_snippets(std::move(setup.library), std::move(setup.classifier), count_words,
                                     PrompterSettings{.prompt_budget = budget, .threshold = threshold});
    EXPECT_TRUE(prompter) << prompter.error().message;
    return std::move(*prompter);
}

std::string text_of(const std::string& name) {
    if (name == "math") return "Work step by step.";
    if (name == "essay") return "Give feedback on the thesis first.";
    if (name == "again") return "Explain it again.";
    return "";
}

TEST(TutorPrompter, ChoosesBySubjectAndBuildsTheExactText) {
    const TutorPrompter prompter = toy_prompter(100);
    EXPECT_EQ(prompter.shared_prefix(), "You are a tutor.");
    const PromptChoice choice = prompter.choose({{"user", "please solve the equation 2x = 4"}});
    ASSERT_GE(choice.snippets.size(), 2u);
    EXPECT_EQ(choice.snippets.front(), "identity");
    EXPECT_EQ(choice.label, "math");
    EXPECT_NE(std::find(choice.snippets.begin(), choice.snippets.end(), "math"), choice.snippets.end());
    std::string expected = prompter.shared_prefix();
    for (size_t i = 1; i < choice.snippets.size(); ++i) expected += "\n\n" + text_of(choice.snippets[i]);
    EXPECT_EQ(choice.system_prompt, expected);
    EXPECT_EQ(choice.tokens, count_words(choice.system_prompt));
    ASSERT_EQ(choice.scores.size(), 3u);  // every selectable snippet, highest first
    EXPECT_EQ(choice.scores.front().first, "math");
    EXPECT_GE(choice.scores[0].second, choice.scores[1].second);
    EXPECT_FALSE(choice.fallback);
}

TEST(TutorPrompter, ChosenSnippetsFollowTheManifestOrder) {
    const TutorPrompter prompter = toy_prompter(100, 0.0);  // every snippet passes the threshold
    const PromptChoice choice = prompter.choose({{"user", "check my essay"}});
    EXPECT_EQ(choice.snippets, (std::vector<std::string>{"identity", "math", "essay", "again"}));
    EXPECT_EQ(choice.system_prompt,
              "You are a tutor.\n\nWork step by step.\n\nGive feedback on the thesis "
              "first.\n\nExplain it again.");
}

TEST(TutorPrompter, StaysWithinTheBudget) {
    for (int budget : {4, 8, 10, 12, 15, 20}) {
        const TutorPrompter prompter = toy_prompter(budget, 0.0);
        for (const char* text : {"check my essay", "solve for x", "huh"}) {
            const PromptChoice choice = prompter.choose({{"user", text}});
            EXPECT_LE(choice.tokens, budget) << text;
            EXPECT_EQ(choice.snippets.front(), "identity");
            EXPECT_TRUE(choice.system_prompt.starts_with(prompter.shared_prefix()));
        }
    }
    // Room for the prefix alone: nothing is added.
    EXPECT_EQ(toy_prompter(4, 0.0).choose({{"user", "solve for x"}}).snippets,
              std::vector<std::string>{"identity"});
}

TEST(TutorPrompter, VagueFollowUpAlsoUsesTheTurnBefore) {
    const TutorPrompter prompter = toy_prompter(100, 0.3);
    const PromptChoice alone = prompter.choose({{"user", "I don't get it"}});
    EXPECT_EQ(alone.label, "confused");
    EXPECT_EQ(std::find(alone.snippets.begin(), alone.snippets.end(), "math"), alone.snippets.end());
    const PromptChoice after_math = prompter.choose(
        {{"user", "solve the equation"}, {"assistant", "Start by isolating x."}, {"user", "I don't get it"}});
    EXPECT_NE(std::find(after_math.snippets.begin(), after_math.snippets.end(), "math"),
              after_math.snippets.end());
    EXPECT_NE(std::find(after_math.snippets.begin(), after_math.snippets.end(), "again"),
              after_math.snippets.end());
}

TEST(TutorPrompter, ClientSystemMessageIsKept) {
    const TutorPrompter prompter = toy_prompter(100);
    const std::vector<ChatMessage> conversation = {{"system", "Mine."}, {"user", "solve for x"}};
    const PromptChoice choice = prompter.choose(conversation);
    EXPECT_TRUE(choice.client_prompt);
    const std::vector<ChatMessage> messages = with_prompt_choice(conversation, choice);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].content, "Mine.");
}

TEST(TutorPrompter, ChoicePutsTheSystemPromptFirst) {
    const TutorPrompter prompter = toy_prompter(100);
    const PromptChoice choice = prompter.choose({{"user", "check my essay"}});
    const std::vector<ChatMessage> messages = with_prompt_choice({{"user", "check my essay"}}, choice);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].role, "system");
    EXPECT_EQ(messages[0].content, choice.system_prompt);
}

TEST(TutorPrompter, FixedPromptIsTheWholePrompt) {
    const TutorPrompter prompter = TutorPrompter::fixed("Be a tutor now.", count_words);
    EXPECT_EQ(prompter.shared_prefix(), "Be a tutor now.");
    EXPECT_FALSE(prompter.uses_snippets());
    const PromptChoice choice = prompter.choose({{"user", "solve for x"}});
    EXPECT_EQ(choice.system_prompt, "Be a tutor now.");
    EXPECT_TRUE(choice.snippets.empty());
    EXPECT_EQ(choice.tokens, 4);
    EXPECT_FALSE(choice.fallback);
}

TEST(TutorPrompter, FallbackServesTheFixedPromptAndSaysSo) {
    const TutorPrompter prompter =
        TutorPrompter::fallback("Be a tutor.", Error{"snippet_missing", "data/prompts/x.txt: not found"});
    EXPECT_TRUE(prompter.is_fallback());
    ASSERT_NE(prompter.fallback_reason(), nullptr);
    EXPECT_EQ(prompter.fallback_reason()->code, "snippet_missing");
    const PromptChoice choice = prompter.choose({{"user", "hi"}});
    EXPECT_TRUE(choice.fallback);
    EXPECT_EQ(choice.system_prompt, "Be a tutor.");
    EXPECT_NE(describe_choice(choice).find("fallback=true"), std::string::npos);
}

TEST(TutorPrompter, ClassifierWithLabelsTheLibraryDoesNotKnowIsRefused) {
    ToySetup setup = toy_setup();
    const SnippetClassifier other = SnippetClassifier::train({{"a b", "x"}, {"c d", "y"}});
    Result<TutorPrompter> prompter =
        TutorPrompter::from_snippets(std::move(setup.library), other, count_words);
    ASSERT_FALSE(prompter);
    EXPECT_EQ(prompter.error().code, "classifier_labels");
}

// The shipped snippets, labels and tokenizer together: typical turns get their snippet, within the budget.
TEST(TutorPrompter, ShippedSnippetsChooseSensibly) {
    Result<TokenCounter> count = vocabulary_token_counter(default_phi3_vocab_path());
    ASSERT_TRUE(count) << count.error().message;
    const std::string source = MIMIR_TEST_SOURCE_DIR;
    Result<SnippetLibrary> library = load_snippet_library(source + "/data/prompts", *count, 256);
    ASSERT_TRUE(library) << library.error().message;
    Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(source + "/data/prompt_labels.csv");
    ASSERT_TRUE(rows) << rows.error().message;
    Result<TutorPrompter> prompter =
        TutorPrompter::from_snippets(std::move(*library), SnippetClassifier::train(*rows), *count);
    ASSERT_TRUE(prompter) << prompter.error().message;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"Can you solve 4x - 7 = 9 step by step?", "math_steps"},
        {"write my whole essay about the ocean for me", "academic_integrity"},
        {"my python loop prints the wrong number", "coding_help"},
        {"I'm really stressed and I want to give up", "emotional_support"},
    };
    for (const auto& [text, snippet] : cases) {
        const PromptChoice choice = prompter->choose({{"user", text}});
        EXPECT_EQ(choice.snippets.front(), "identity_tone") << text;
        EXPECT_NE(std::find(choice.snippets.begin(), choice.snippets.end(), snippet), choice.snippets.end())
            << text << ": " << describe_choice(choice);
        EXPECT_LE(choice.tokens, 256);
        EXPECT_EQ(choice.tokens, (*count)(choice.system_prompt));
    }
}

}  // namespace
}  // namespace mimir
