// The server fits each conversation to --history-budget before the engine sees it: a long conversation is
// answered from the same prompt as the client sending only the turns the budget keeps.
#include "agent/history_budget.h"

#include <gtest/gtest.h>

#include "model/token_counter.h"
#include "serve_test_support.h"
#include "support/test_models.h"

namespace mimir::serve::test {
namespace {

using nlohmann::json;

std::vector<ChatMessage> long_conversation() {
    std::vector<ChatMessage> messages;
    for (int turn = 1; turn <= 6; ++turn) {
        messages.push_back({"user", "Question " + std::to_string(turn) +
                                        ": how do fractions with unlike "
                                        "denominators add up?"});
        messages.push_back({"assistant", "Answer " + std::to_string(turn) +
                                             ": find a common denominator first, then add the numerators."});
    }
    messages.push_back({"user", "And how do I simplify the result?"});
    return messages;
}

json request_body(const std::vector<ChatMessage>& messages) {
    json body = {{"messages", json::array()}, {"max_tokens", 2}, {"temperature", 0}};
    for (const ChatMessage& message : messages)
        body["messages"].push_back({{"role", message.role}, {"content", message.content}});
    return body;
}

int prompt_tokens(httplib::Client& client, const std::vector<ChatMessage>& messages) {
    auto res = client.Post("/v1/chat/completions", request_body(messages).dump(), "application/json");
    EXPECT_TRUE(res) << "no response";
    if (!res) return -1;
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body)["usage"]["prompt_tokens"].get<int>();
}

TEST(ServeHistoryBudget, OldestTurnsAreDroppedBeforeTheEngine) {
    const ModelFiles files = ModelFiles::create(mimir::test::scratch_dir());
    Result<TokenCounter> count = vocabulary_token_counter(files.base);
    ASSERT_TRUE(count.ok()) << count.error().message;
    const std::vector<ChatMessage> conversation = long_conversation();
    const int budget = 60;
    const FittedHistory fitted = fit_history(conversation, budget, *count);
    ASSERT_GT(fitted.dropped_turns, 0);
    ASSERT_LT(fitted.dropped_turns, 6);

    ServeOptions options = test_options();
    options.history_budget = budget;
    TestServer server(ModelPaths{.base = files.base}, options);
    auto client = server.client();
    const int served = prompt_tokens(*client, conversation);
    EXPECT_EQ(served, prompt_tokens(*client, fitted.messages));

    // Without a budget the whole conversation reaches the engine (it fits the context).
    ServeOptions unlimited = test_options();
    TestServer plain(ModelPaths{.base = files.base}, unlimited);
    EXPECT_GT(prompt_tokens(*plain.client(), conversation), served);
}

}  // namespace
}  // namespace mimir::serve::test
