// The history budget: oldest whole turns go first, system messages and the last turn always stay, and
// the budget's edges are exact. Tokens are counted as words here, so every count can be checked by hand.
#include "agent/history_budget.h"

#include <gtest/gtest.h>

#include "data/dataset_checks.h"  // count_words: words stand in for tokens here
#include "model/token_counter.h"
#include "support/test_models.h"

namespace mimir {
namespace {

const TokenCounter kWords = count_words;

int total_words(const std::vector<ChatMessage>& messages, bool with_system) {
    int n = 0;
    for (const ChatMessage& message : messages) {
        if (with_system || message.role != "system") n += count_words(message.content);
    }
    return n;
}

// system, then three turns of 6 words each (3 + 3), then the last question of 2 words.
std::vector<ChatMessage> tutoring() {
    return {{"system", "You are a patient tutor for students."},
            {"user", "What is photosynthesis?"},
            {"assistant", "Plants make sugar."},
            {"user", "Where does it happen?"},
            {"assistant", "In the chloroplasts."},
            {"user", "What do they need?"},
            {"assistant", "Light, water, air."},
            {"user", "Why light?"}};
}

std::vector<ChatMessage> tail(const std::vector<ChatMessage>& messages, size_t from) {
    std::vector<ChatMessage> kept{messages.front()};
    kept.insert(kept.end(), messages.begin() + static_cast<std::ptrdiff_t>(from), messages.end());
    return kept;
}

bool same(const std::vector<ChatMessage>& a, const std::vector<ChatMessage>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].role != b[i].role || a[i].content != b[i].content) return false;
    }
    return true;
}

TEST(HistoryBudget, AConversationWithinTheBudgetIsUnchanged) {
    const std::vector<ChatMessage> conversation = tutoring();
    const int history = total_words(conversation, false);
    const FittedHistory fitted = fit_history(conversation, history, kWords);
    EXPECT_TRUE(same(fitted.messages, conversation));
    EXPECT_EQ(fitted.dropped_turns, 0);
    EXPECT_EQ(fitted.tokens, history);
}

TEST(HistoryBudget, TheBudgetsEdgesAreExact) {
    const std::vector<ChatMessage> conversation = tutoring();
    const int history = total_words(conversation, false);
    const int first_turn = count_words(conversation[1].content) + count_words(conversation[2].content);
    // One token over: the first turn goes, question and reply together.
    FittedHistory fitted = fit_history(conversation, history - 1, kWords);
    EXPECT_EQ(fitted.dropped_turns, 1);
    EXPECT_TRUE(same(fitted.messages, tail(conversation, 3)));
    EXPECT_EQ(fitted.tokens, history - first_turn);
    // Exactly what is left after the first turn: still one turn dropped; one token less: two.
    EXPECT_EQ(fit_history(conversation, history - first_turn, kWords).dropped_turns, 1);
    fitted = fit_history(conversation, history - first_turn - 1, kWords);
    EXPECT_EQ(fitted.dropped_turns, 2);
    EXPECT_TRUE(same(fitted.messages, tail(conversation, 5)));
    EXPECT_EQ(fitted.tokens, total_words(tail(conversation, 5), false));
}

TEST(HistoryBudget, SystemMessagesAndTheLastTurnStayWhateverTheBudget) {
    std::vector<ChatMessage> conversation = tutoring();
    // A system message in the middle (some clients add one) stays where it is.
    conversation.insert(conversation.begin() + 3, ChatMessage{"system", "The student is in grade 7."});
    for (int budget : {0, 1, -5}) {
        const FittedHistory fitted = fit_history(conversation, budget, kWords);
        ASSERT_EQ(fitted.messages.size(), 3u);
        EXPECT_EQ(fitted.messages[0].content, conversation[0].content);
        EXPECT_EQ(fitted.messages[1].content, "The student is in grade 7.");
        EXPECT_EQ(fitted.messages[2].content, "Why light?");
        EXPECT_EQ(fitted.dropped_turns, 3);
        EXPECT_EQ(fitted.tokens, count_words("Why light?"));  // over the budget: the last turn alone is
    }
}

TEST(HistoryBudget, AReplyNeverStaysWithoutItsQuestion) {
    // Turns of different sizes; at every budget, every kept assistant message follows its own user message.
    std::vector<ChatMessage> conversation = {{"system", "Tutor."},
                                             {"user", "one"},
                                             {"assistant", "a long reply of many words here"},
                                             {"assistant", "and a second part"},
                                             {"user", "two three"},
                                             {"assistant", "short"},
                                             {"user", "last"}};
    const int history = total_words(conversation, false);
    for (int budget = 0; budget <= history; ++budget) {
        const FittedHistory fitted = fit_history(conversation, budget, kWords);
        EXPECT_LE(fitted.tokens, std::max(budget, 1)) << budget;
        EXPECT_EQ(fitted.tokens, total_words(fitted.messages, false));
        ASSERT_GE(fitted.messages.size(), 2u);
        EXPECT_EQ(fitted.messages[1].role, "user")
            << "budget " << budget << " kept a reply without its question";
        // The kept turns are the newest ones, whole: the kept messages are a tail of the conversation.
        EXPECT_TRUE(
            same(fitted.messages, tail(conversation, conversation.size() - (fitted.messages.size() - 1))));
    }
}

TEST(HistoryBudget, AGreetingBeforeTheFirstQuestionIsATurnOfItsOwn) {
    const std::vector<ChatMessage> conversation = {{"system", "Tutor."},
                                                   {"assistant", "Hello, what are we studying today?"},
                                                   {"user", "Fractions."},
                                                   {"assistant", "Good."},
                                                   {"user", "How do I add them?"}};
    const int history = total_words(conversation, false);
    FittedHistory fitted = fit_history(conversation, history - 1, kWords);
    EXPECT_EQ(fitted.dropped_turns, 1);
    EXPECT_TRUE(same(fitted.messages, tail(conversation, 2)));
}

TEST(HistoryBudget, AReplyAfterTheLastQuestionStaysWithIt) {
    // A client continuing the assistant's last reply: the last turn is question and partial reply.
    std::vector<ChatMessage> conversation = tutoring();
    conversation.push_back({"assistant", "Because"});
    const FittedHistory fitted = fit_history(conversation, 0, kWords);
    ASSERT_EQ(fitted.messages.size(), 3u);
    EXPECT_EQ(fitted.messages[1].content, "Why light?");
    EXPECT_EQ(fitted.messages[2].content, "Because");
}

TEST(HistoryBudget, CountsWithTheModelsTokenizer) {
    Result<TokenCounter> tokens = vocabulary_token_counter(test::tiny_model_path());
    ASSERT_TRUE(tokens.ok()) << tokens.error().message;
    const std::vector<ChatMessage> conversation = tutoring();
    int history = 0;
    for (size_t i = 1; i < conversation.size(); ++i) history += (*tokens)(conversation[i].content);
    const FittedHistory whole = fit_history(conversation, history, *tokens);
    EXPECT_EQ(whole.tokens, history);
    EXPECT_EQ(whole.dropped_turns, 0);
    EXPECT_EQ(fit_history(conversation, history - 1, *tokens).dropped_turns, 1);
}

TEST(HistoryBudget, TheDefaultLeavesEachConversationRoomForAReply) {
    for (int n_ctx : {512, 4096, 8192}) {
        for (int n_parallel : {1, 4, 8}) {
            const int budget = default_history_budget(n_ctx, n_parallel);
            EXPECT_GT(budget, 0);
            // Every slot's history and an equal reply fit the context together.
            EXPECT_LE(2 * budget * n_parallel, n_ctx) << n_ctx << " / " << n_parallel;
            // And the budget is not needlessly small: one more token per slot would break that.
            EXPECT_GT(2 * (budget + 1) * n_parallel, n_ctx) << n_ctx << " / " << n_parallel;
        }
    }
}

}  // namespace
}  // namespace mimir
