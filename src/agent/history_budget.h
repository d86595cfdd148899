// Fitting a conversation's history to a token budget before the engine sees it, so that a long
// conversation costs a bounded prompt and leaves room in the shared context for the other students. The
// engine's own fitting to the context (model/chat_prompt.h) stays as the last resort behind it.
#pragma once

#include <string>
#include <vector>

#include "model/engine.h"
#include "model/token_counter.h"

namespace mimir {

struct FittedHistory {
    std::vector<ChatMessage> messages;  // the system messages and the turns kept, in their order
    int dropped_turns = 0;              // whole turns removed, the oldest first
    int tokens = 0;                     // tokens of the kept turns' contents (no system message, no
                                        // chat-template tokens); above the budget only when the last
                                        // turn alone is
};

// Drops the oldest turns until the contents of the turns left take at most `budget_tokens` tokens as
// `count` counts them. A turn is a user message with the messages that answer it up to the next user
// message (messages before the first user message are a turn of their own); turns go whole, so a reply is
// never kept without its question or cut in the middle. System messages do not count against the budget
// (the prompt has its own) and are always kept, wherever they are, and so is the last turn.
FittedHistory fit_history(std::vector<ChatMessage> conversation, int budget_tokens,
                          const TokenCounter& count);

// The default budget for `n_parallel` conversations sharing a context of `n_ctx` tokens: half of one
// conversation's share, leaving the other half for the reply (the engine reserves up to a quarter of the
// context for it) and the chat template, so that every slot can hold a full history and a reply at once
// without the engine cutting one of them short. The shared system prompt is computed once and is not part
// of any share.
int default_history_budget(int n_ctx, int n_parallel);

}  // namespace mimir
