// Turns a conversation (a list of ChatMessage) into the prompt tokens the model reads, with the model's
// own chat template, shortened from the oldest turns when it does not fit the context.
#pragma once

#include <string>
#include <vector>

#include "llama.h"
#include "model/engine.h"
#include "support/result.h"

namespace mimir {

// Checks what a client controls: at least one message, roles "system", "user" or "assistant", content
// not empty and valid UTF-8. Error code "invalid_request", naming the message index and field.
Status validate_messages(const std::vector<ChatMessage>& messages);

// The model's chat template (from its GGUF metadata), or "chatml" when it has none.
std::string chat_template_of(const llama_model* model);

// Applies `chat_template` to `messages` (llama.cpp's built-in templates; Phi-3's among them), ending with
// the assistant's turn opener when `add_assistant`. Error "template_failed" when llama.cpp does not know it.
Result<std::string> apply_chat_template(const std::string& chat_template,
                                        const std::vector<ChatMessage>& messages, bool add_assistant);

// Text -> tokens, parsing special tokens such as <|user|> (they come from the template, and message
// content is validated text, so a student typing "<|end|>" is the only way in: accepted, as llama-server
// does).
std::vector<llama_token> tokenize(const llama_vocab* vocab, const std::string& text);

// A conversation ready for the engine.
struct ChatPrompt {
    std::vector<llama_token> tokens;
    // Leading tokens that encode only the system message(s): the same for every conversation that uses
    // the same system prompt, so their KV can be computed once and shared. 0 when there is no system message.
    int system_prefix_tokens = 0;
    int dropped_messages = 0;  // oldest non-system turns removed to fit
};

// Formats and tokenizes `messages`. When the result is longer than `token_budget`, drops the oldest
// non-system messages (whole messages, so nothing is cut mid-token or mid-turn) until it fits, always
// keeping the system messages and the last message; a conversation that still does not fit in
// `hard_limit` tokens fails with "context_exceeded". `token_budget <= hard_limit`: the budget leaves room
// for the reply, the hard limit only for one token of it.
Result<ChatPrompt> build_chat_prompt(const llama_model* model, const std::vector<ChatMessage>& messages,
                                     int token_budget, int hard_limit);

}  // namespace mimir
