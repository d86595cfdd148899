// The OpenAI chat-completions wire format: parsing and validating a request body into what the engine
// needs, and building the response, the streamed chunks and the error body. Pure functions over strings
// and JSON (no sockets), so they are unit-tested and fuzzed directly.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/tutor_prompter.h"
#include "model/engine.h"
#include "support/result.h"

namespace mimir::serve {

// Bounds a request must respect beyond its JSON shape and SamplingLimits. max_tokens is capped by the
// context size.
struct ChatRequestLimits {
    int max_tokens = 4096;
    size_t max_messages = 256;
};

// A validated request. Sampling values are checked against SamplingLimits (model/sampling_limits.h).
// Fields that ask for something the server cannot do (n > 1, response_format other than text, tools,
// tool_choice) are refused naming the field; harmless ones clients send routinely (user,
// frequency_penalty, ...) are ignored. docs/api.md lists which.
struct ChatCompletionRequest {
    std::string model;
    std::vector<ChatMessage> messages;
    SamplingParams sampling;
    bool stream = false;
    std::optional<bool> response_guard;  // Mimir's own field: overrides the server's --response-guard
    bool debug = false;                  // Mimir's extension: the response carries "mimir": {"prompt": ...}
};

// Errors have code "invalid_request" and a message naming the offending field, e.g.
// "messages[1].role must be one of system, user, assistant".
Result<ChatCompletionRequest> parse_chat_request(std::string_view body, const ChatRequestLimits& limits);

// Identity of one completion, shared by all its chunks.
struct CompletionId {
    std::string id;         // "chatcmpl-" + 24 random hex digits
    long long created = 0;  // unix seconds
    std::string model;      // the tier serving it, e.g. "mimir-fine-tuned"
    static CompletionId make(std::string model);
};

nlohmann::json usage_json(const GenerationResult& result);
nlohmann::json timings_json(const GenerationResult& result);

// choices[i].logprobs as OpenAI writes it: {"content":[{token, logprob, bytes, top_logprobs}]}.
nlohmann::json logprobs_json(const std::vector<TokenLogprob>& logprobs);

// The whole non-streamed response (object "chat.completion"); with_logprobs when the request asked.
nlohmann::json completion_json(const CompletionId& id, const GenerationResult& result,
                               bool with_logprobs = false);

// Streamed chunks (object "chat.completion.chunk"): the first carries the role, then one per text piece
// (with the logprobs of its tokens, when there are any), and the last carries finish_reason, usage and
// timings.
nlohmann::json role_chunk_json(const CompletionId& id);
nlohmann::json text_chunk_json(const CompletionId& id, std::string_view text,
                               const std::vector<TokenLogprob>& logprobs = {});
nlohmann::json final_chunk_json(const CompletionId& id, const GenerationResult& result);

// The debug field of a request that asked for it: {"prompt": {"snippets", "scores", "label", "tokens",
// "fallback", "client_prompt"}}, added to the response (or the last streamed chunk) as "mimir".
nlohmann::json prompt_debug_json(const PromptChoice& choice);

// {"error":{"code","message","type"}}
nlohmann::json error_json(std::string_view code, std::string_view message, std::string_view type);

// JSON text that never throws: invalid UTF-8 from a model is replaced with U+FFFD instead.
std::string to_text(const nlohmann::json& value);

// One server-sent event carrying `payload` ("data: <payload>\n\n"); payload must have no newline.
std::string sse_event(std::string_view payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace mimir::serve
