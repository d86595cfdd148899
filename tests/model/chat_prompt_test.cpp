// Chat template application, message validation and shortening a conversation to fit the context.
#include "model/chat_prompt.h"

#include <gtest/gtest.h>

#include "loaded_tiny_model.h"

namespace mimir {
namespace {

std::vector<ChatMessage> conversation(int n_turns, const std::string& filler = "some words about fractions") {
    std::vector<ChatMessage> messages{{"system", "You are a patient tutor."}};
    for (int i = 0; i < n_turns; ++i) {
        messages.push_back({"user", "question " + std::to_string(i) + ": " + filler});
        messages.push_back({"assistant", "answer " + std::to_string(i) + ": " + filler});
    }
    messages.push_back({"user", "last question"});
    return messages;
}

TEST(ValidateMessages, AcceptsAnOrdinaryConversation) {
    EXPECT_TRUE(validate_messages(conversation(2)).ok());
}

TEST(ValidateMessages, RejectsEachKindOfBadMessageNamingIt) {
    struct Case {
        std::vector<ChatMessage> messages;
        std::string expected_fragment;
    };
    const std::vector<Case> cases = {
        {{}, "empty"},
        {{{"user", ""}}, "messages[0].content: empty"},
        {{{"user", "fine"}, {"tool", "x"}}, "messages[1].role: unknown role \"tool\""},
        {{{"user", "bad \xC3\x28 bytes"}}, "messages[0].content: not valid UTF-8"},
        {{{"User", "case matters"}}, "unknown role"},
    };
    for (const Case& c : cases) {
        Status status = validate_messages(c.messages);
        ASSERT_FALSE(status.ok()) << c.expected_fragment;
        EXPECT_EQ(status.error().code, "invalid_request");
        EXPECT_NE(status.error().message.find(c.expected_fragment), std::string::npos)
            << status.error().message;
    }
}

TEST(ChatTemplate, ModelTemplateIsPhi3) {
    auto model = test::loaded_tiny_model();
    const std::string chat_template = chat_template_of(model->model.get());
    Result<std::string> text =
        apply_chat_template(chat_template, {{"system", "Be brief."}, {"user", "Hi"}}, true);
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n");
}

TEST(ChatTemplate, UnknownTemplateIsAnError) {
    Result<std::string> text =
        apply_chat_template("{{ not a template llama.cpp knows }}", {{"user", "Hi"}}, true);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().code, "template_failed");
}

TEST(BuildChatPrompt, FitsWithoutDroppingWhenShort) {
    auto model = test::loaded_tiny_model();
    Result<ChatPrompt> prompt = build_chat_prompt(model->model.get(), conversation(2), 4096, 4096);
    ASSERT_TRUE(prompt.ok()) << prompt.error().message;
    EXPECT_EQ(prompt->dropped_messages, 0);
    EXPECT_GT(prompt->system_prefix_tokens, 0);
    EXPECT_LT(prompt->system_prefix_tokens, static_cast<int>(prompt->tokens.size()));
    // The special tokens of the template are single tokens, not text.
    const llama_vocab* vocab = model->vocab();
    const std::vector<llama_token> user = tokenize(vocab, "<|user|>");  // BOS, then <|user|> as one token
    ASSERT_EQ(user.size(), llama_vocab_get_add_bos(vocab) ? 2u : 1u);
    EXPECT_NE(std::find(prompt->tokens.begin(), prompt->tokens.end(), user.back()), prompt->tokens.end());
}

TEST(BuildChatPrompt, SystemPrefixIsTheSameForDifferentConversations) {
    auto model = test::loaded_tiny_model();
    Result<ChatPrompt> a = build_chat_prompt(model->model.get(), conversation(1), 4096, 4096);
    Result<ChatPrompt> b = build_chat_prompt(
        model->model.get(), {{"system", "You are a patient tutor."}, {"user", "x"}}, 4096, 4096);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->system_prefix_tokens, b->system_prefix_tokens);
    const auto n = static_cast<std::ptrdiff_t>(a->system_prefix_tokens);
    EXPECT_TRUE(std::equal(a->tokens.begin(), a->tokens.begin() + n, b->tokens.begin()));
}

TEST(BuildChatPrompt, DropsOldestTurnsKeepingSystemAndLast) {
    auto model = test::loaded_tiny_model();
    const std::vector<ChatMessage> messages = conversation(20);
    Result<ChatPrompt> full = build_chat_prompt(model->model.get(), messages, 100000, 100000);
    ASSERT_TRUE(full.ok());
    const int budget = static_cast<int>(full->tokens.size()) / 2;
    Result<ChatPrompt> shortened = build_chat_prompt(model->model.get(), messages, budget, budget);
    ASSERT_TRUE(shortened.ok()) << shortened.error().message;
    EXPECT_GT(shortened->dropped_messages, 0);
    EXPECT_LE(static_cast<int>(shortened->tokens.size()), budget);
    // Whole messages were dropped: the kept tail is exactly the template of the remaining messages.
    std::vector<ChatMessage> kept{messages.front()};
    kept.insert(kept.end(), messages.begin() + 1 + shortened->dropped_messages, messages.end());
    Result<std::string> text = apply_chat_template(chat_template_of(model->model.get()), kept, true);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(tokenize(model->vocab(), *text), shortened->tokens);
    // Dropping one message fewer would not have fit: no turn was dropped needlessly.
    std::vector<ChatMessage> one_more{messages.front()};
    one_more.insert(one_more.end(), messages.begin() + shortened->dropped_messages, messages.end());
    Result<std::string> longer = apply_chat_template(chat_template_of(model->model.get()), one_more, true);
    ASSERT_TRUE(longer.ok());
    EXPECT_GT(static_cast<int>(tokenize(model->vocab(), *longer).size()), budget);
}

TEST(BuildChatPrompt, LastMessageTooLongIsContextExceeded) {
    auto model = test::loaded_tiny_model();
    std::string huge;
    for (int i = 0; i < 400; ++i) huge += "word" + std::to_string(i) + " ";
    Result<ChatPrompt> prompt = build_chat_prompt(
        model->model.get(), {{"system", "Tutor."}, {"user", "hi"}, {"user", huge}}, 200, 256);
    ASSERT_FALSE(prompt.ok());
    EXPECT_EQ(prompt.error().code, "context_exceeded");
}

TEST(BuildChatPrompt, OverBudgetButUnderHardLimitIsAccepted) {
    auto model = test::loaded_tiny_model();
    const std::vector<ChatMessage> messages{{"system", "Tutor."}, {"user", "a question of a few words"}};
    Result<ChatPrompt> exact = build_chat_prompt(model->model.get(), messages, 4096, 4096);
    ASSERT_TRUE(exact.ok());
    const int n = static_cast<int>(exact->tokens.size());
    Result<ChatPrompt> tight = build_chat_prompt(model->model.get(), messages, n - 1, n);
    ASSERT_TRUE(tight.ok());
    EXPECT_EQ(tight->tokens, exact->tokens);
    EXPECT_FALSE(build_chat_prompt(model->model.get(), messages, n - 2, n - 1).ok());
}

}  // namespace
}  // namespace mimir
