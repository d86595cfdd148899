#include "model/chat_prompt.h"

#include <algorithm>
#include <array>

#include "model/utf8_stream.h"

namespace mimir {

namespace {

constexpr std::array<std::string_view, 3> kRoles = {"system", "user", "assistant"};

bool is_system(const ChatMessage& message) {
    return message.role == "system";
}

// The conversation with the first `n_drop` droppable messages (non-system, not the last) removed.
std::vector<ChatMessage> without_oldest(const std::vector<ChatMessage>& messages, int n_drop) {
    std::vector<ChatMessage> kept;
    kept.reserve(messages.size());
    int dropped = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
        const bool droppable = !is_system(messages[i]) && i + 1 < messages.size();
        if (droppable && dropped < n_drop) {
            ++dropped;
            continue;
        }
        kept.push_back(messages[i]);
    }
    return kept;
}

int count_droppable(const std::vector<ChatMessage>& messages) {
    int n = 0;
    for (size_t i = 0; i + 1 < messages.size(); ++i) n += is_system(messages[i]) ? 0 : 1;
    return n;
}

size_t common_prefix(const std::vector<llama_token>& a, const std::vector<llama_token>& b) {
    const auto mismatch = std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()), b.begin());
    return static_cast<size_t>(mismatch.first - a.begin());
}

Result<std::vector<llama_token>> format_and_tokenize(const llama_model* model,
                                                     const std::string& chat_template,
                                                     const std::vector<ChatMessage>& messages,
                                                     bool add_assistant) {
    Result<std::string> text = apply_chat_template(chat_template, messages, add_assistant);
    if (!text) return text.error();
    return tokenize(llama_model_get_vocab(model), *text);
}

// Number of leading prompt tokens that encode the leading system message(s) alone.
int system_prefix_length(const llama_model* model, const std::string& chat_template,
                         const std::vector<ChatMessage>& messages, const std::vector<llama_token>& tokens) {
    std::vector<ChatMessage> system;
    for (const ChatMessage& message : messages) {
        if (!is_system(message)) break;
        system.push_back(message);
    }
    if (system.empty()) return 0;
    Result<std::vector<llama_token>> system_tokens = format_and_tokenize(model, chat_template, system, false);
    if (!system_tokens) return 0;
    return static_cast<int>(common_prefix(*system_tokens, tokens));
}

}  // namespace

Status validate_messages(const std::vector<ChatMessage>& messages) {
    if (messages.empty()) return Status::failure("invalid_request", "messages: the list is empty");
    for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& message = messages[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (std::find(kRoles.begin(), kRoles.end(), message.role) == kRoles.end()) {
            return Status::failure("invalid_request", where + ".role: unknown role \"" +
                                                          (is_valid_utf8(message.role) ? message.role : "?") +
                                                          "\" (expected system, user or assistant)");
        }
        if (message.content.empty()) return Status::failure("invalid_request", where + ".content: empty");
        if (!is_valid_utf8(message.content)) {
            return Status::failure("invalid_request", where + ".content: not valid UTF-8");
        }
    }
    return ok_status();
}

std::string chat_template_of(const llama_model* model) {
    const char* chat_template = llama_model_chat_template(model, nullptr);
    return chat_template ? chat_template : "chatml";
}

Result<std::string> apply_chat_template(const std::string& chat_template,
                                        const std::vector<ChatMessage>& messages, bool add_assistant) {
    std::vector<llama_chat_message> chat;
    size_t content_bytes = 0;
    for (const ChatMessage& message : messages) {
        chat.push_back({message.role.c_str(), message.content.c_str()});
        content_bytes += message.content.size() + message.role.size();
    }
    std::string buffer(2 * content_bytes + 256, '\0');
    for (int attempt = 0; attempt < 2; ++attempt) {
        const int32_t n =
            llama_chat_apply_template(chat_template.c_str(), chat.data(), chat.size(), add_assistant,
                                      buffer.data(), static_cast<int32_t>(buffer.size()));
        if (n < 0) {
            return Result<std::string>::failure("template_failed",
                                                "the model's chat template is not one llama.cpp supports");
        }
        if (static_cast<size_t>(n) <= buffer.size()) {
            buffer.resize(static_cast<size_t>(n));
            return buffer;
        }
        buffer.resize(static_cast<size_t>(n));
    }
    return Result<std::string>::failure("template_failed", "chat template output kept growing");
}

std::vector<llama_token> tokenize(const llama_vocab* vocab, const std::string& text) {
    std::vector<llama_token> tokens(text.size() + 8);
    int32_t n =
        llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                       static_cast<int32_t>(tokens.size()), /*add_special=*/true, /*parse_special=*/true);
    if (n < 0) {
        tokens.resize(static_cast<size_t>(-n));
        n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                           static_cast<int32_t>(tokens.size()), true, true);
    }
    tokens.resize(static_cast<size_t>(std::max(n, 0)));
    return tokens;
}

Result<ChatPrompt> build_chat_prompt(const llama_model* model, const std::vector<ChatMessage>& messages,
                                     int token_budget, int hard_limit) {
    if (Status valid = validate_messages(messages); !valid) return valid.error();
    const std::string chat_template = chat_template_of(model);

    // Fewer messages never make a longer prompt, so binary-search the fewest drops that fit the budget.
    const int n_droppable = count_droppable(messages);
    int low = 0, high = n_droppable;
    std::vector<llama_token> best;
    int best_drops = -1;
    while (low <= high) {
        const int mid = (low + high) / 2;
        Result<std::vector<llama_token>> tokens =
            format_and_tokenize(model, chat_template, without_oldest(messages, mid), true);
        if (!tokens) return tokens.error();
        if (static_cast<int>(tokens->size()) <= token_budget) {
            best = std::move(*tokens);
            best_drops = mid;
            high = mid - 1;
        } else {
            low = mid + 1;
        }
    }
    if (best_drops < 0) {
        // Even system + last message exceed the budget; accept it when the hard limit still leaves room.
        Result<std::vector<llama_token>> tokens =
            format_and_tokenize(model, chat_template, without_oldest(messages, n_droppable), true);
        if (!tokens) return tokens.error();
        if (static_cast<int>(tokens->size()) > hard_limit) {
            return Result<ChatPrompt>::failure(
                "context_exceeded", "the system prompt and the last message alone take " +
                                        std::to_string(tokens->size()) + " tokens; the context allows " +
                                        std::to_string(hard_limit));
        }
        best = std::move(*tokens);
        best_drops = n_droppable;
    }
    ChatPrompt prompt;
    prompt.dropped_messages = best_drops;
    prompt.system_prefix_tokens =
        system_prefix_length(model, chat_template, without_oldest(messages, best_drops), best);
    prompt.tokens = std::move(best);
    return prompt;
}

}  // namespace mimir
