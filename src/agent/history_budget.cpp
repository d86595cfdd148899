#include "agent/history_budget.h"

#include <algorithm>

namespace mimir {

namespace {

constexpr int kNoTurn = -1;

bool is_system(const ChatMessage& message) {
    return message.role == "system";
}

}  // namespace

FittedHistory fit_history(std::vector<ChatMessage> conversation, int budget_tokens,
                          const TokenCounter& count) {
    // The turn of each non-system message, and each turn's tokens.
    std::vector<int> turn_of(conversation.size(), kNoTurn);
    std::vector<int> turn_tokens;
    for (size_t i = 0; i < conversation.size(); ++i) {
        const ChatMessage& message = conversation[i];
        if (is_system(message)) continue;
        if (message.role == "user" || turn_tokens.empty()) turn_tokens.push_back(0);
        turn_of[i] = static_cast<int>(turn_tokens.size()) - 1;
        turn_tokens.back() += count(message.content);
    }
    FittedHistory fitted;
    for (int tokens : turn_tokens) fitted.tokens += tokens;
    const int n_droppable = std::max(static_cast<int>(turn_tokens.size()) - 1, 0);
    while (fitted.tokens > budget_tokens && fitted.dropped_turns < n_droppable) {
        fitted.tokens -= turn_tokens[static_cast<size_t>(fitted.dropped_turns)];
        ++fitted.dropped_turns;
    }
    fitted.messages.reserve(conversation.size());
    for (size_t i = 0; i < conversation.size(); ++i) {
        if (turn_of[i] == kNoTurn || turn_of[i] >= fitted.dropped_turns)
            fitted.messages.push_back(std::move(conversation[i]));
    }
    return fitted;
}

int default_history_budget(int n_ctx, int n_parallel) {
    return std::max(n_ctx / std::max(n_parallel, 1) / 2, 1);
}

}  // namespace mimir
