#include "serve/chat_request.h"

#include <fmt/format.h>
#include <utf8.h>

#include <chrono>
#include <cmath>
#include <random>

namespace mimir::serve {

using nlohmann::json;

namespace {

Error invalid(std::string message) {
    return Error{"invalid_request", std::move(message)};
}

// Message contents are a string or, in the newer OpenAI shape, an array of {"type":"text","text":...}.
Result<std::string> read_content(const json& content, const std::string& where) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) return invalid(where + " must be a string or an array of text parts");
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const json& part = content[i];
        const std::string part_where = where + "[" + std::to_string(i) + "]";
        if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") ||
            !part["text"].is_string())
            return invalid(part_where + " must be {\"type\":\"text\",\"text\":string}");
        text += part["text"].get<std::string>();
    }
    return text;
}

Result<std::vector<ChatMessage>> read_messages(const json& body, const ChatRequestLimits& limits) {
    if (!body.contains("messages")) return invalid("messages is required");
    const json& messages = body["messages"];
    if (!messages.is_array()) return invalid("messages must be an array");
    if (messages.empty()) return invalid("messages must not be empty");
    if (messages.size() > limits.max_messages)
        return invalid("messages has " + std::to_string(messages.size()) + " entries; at most " +
                       std::to_string(limits.max_messages) + " are accepted");
    std::vector<ChatMessage> out;
    for (size_t i = 0; i < messages.size(); ++i) {
        const std::string where = "messages[" + std::to_string(i) + "]";
        const json& message = messages[i];
        if (!message.is_object()) return invalid(where + " must be an object");
        if (!message.contains("role") || !message["role"].is_string())
            return invalid(where + ".role must be a string");
        std::string role = message["role"].get<std::string>();
        if (role != "system" && role != "user" && role != "assistant")
            return invalid(where + ".role must be one of system, user, assistant");
        if (!message.contains("content")) return invalid(where + ".content is required");
        Result<std::string> content = read_content(message["content"], where + ".content");
        if (!content) return content.error();
        if (content->empty()) return invalid(where + ".content must not be empty");
        out.push_back(ChatMessage{std::move(role), std::move(*content)});
    }
    return out;
}

// Reads an optional number field into `target` when present, checking [low, high].
Status read_number(const json& body, const char* name, double low, double high, float& target) {
    if (!body.contains(name) || body[name].is_null()) return ok_status();
    const json& v = body[name];
    if (!v.is_number()) return invalid(std::string(name) + " must be a number");
    double value = v.get<double>();
    if (!std::isfinite(value) || value < low || value > high)
        return invalid(fmt::format("{} must be between {:g} and {:g}", name, low, high));
    target = static_cast<float>(value);
    return ok_status();
}

Status read_integer(const json& body, const char* name, long long low, long long high, long long& target) {
    if (!body.contains(name) || body[name].is_null()) return ok_status();
    const json& v = body[name];
    if (!v.is_number_integer()) return invalid(std::string(name) + " must be an integer");
    // Unsigned values above INT64_MAX compare as huge, not negative.
    const bool too_big =
        v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(high);
    const long long value = too_big ? high : v.get<long long>();
    if (too_big || value < low || value > high)
        return invalid(std::string(name) + " must be between " + std::to_string(low) + " and " +
                       std::to_string(high));
    target = value;
    return ok_status();
}

Status read_stop(const json& body, std::vector<std::string>& stop) {
    if (!body.contains("stop") || body["stop"].is_null()) return ok_status();
    const json& v = body["stop"];
    if (v.is_string()) {
        if (!v.get<std::string>().empty()) stop.push_back(v.get<std::string>());
        return ok_status();
    }
    if (!v.is_array()) return invalid("stop must be a string or an array of strings");
    if (v.size() > SamplingLimits::kMaxStopStrings)
        return invalid("stop has more than " + std::to_string(SamplingLimits::kMaxStopStrings) + " strings");
    for (const json& s : v) {
        if (!s.is_string()) return invalid("stop must be a string or an array of strings");
        if (s.get<std::string>().size() > SamplingLimits::kMaxStopBytes)
            return invalid("stop strings must be at most " + std::to_string(SamplingLimits::kMaxStopBytes) +
                           " bytes");
        if (!s.get<std::string>().empty()) stop.push_back(s.get<std::string>());
    }
    return ok_status();
}

Status read_boolean(const json& body, const char* name, bool& target) {
    if (!body.contains(name) || body[name].is_null()) return ok_status();
    if (!body[name].is_boolean()) return invalid(std::string(name) + " must be true or false");
    target = body[name].get<bool>();
    return ok_status();
}

Status read_logprobs(const json& body, SamplingParams& sampling) {
    if (Status s = read_boolean(body, "logprobs", sampling.logprobs); !s) return s;
    long long top = 0;
    if (Status s = read_integer(body, "top_logprobs", SamplingLimits::kMinTopLogprobs,
                                SamplingLimits::kMaxTopLogprobs, top);
        !s)
        return s;
    if (top > 0 && !sampling.logprobs) return invalid("top_logprobs needs \"logprobs\": true");
    sampling.top_logprobs = static_cast<int>(top);
    return ok_status();
}

Status read_sampling(const json& body, const ChatRequestLimits& limits, SamplingParams& sampling) {
    using L = SamplingLimits;
    for (Status s :
         {read_number(body, "temperature", L::kMinTemperature, L::kMaxTemperature, sampling.temperature),
          read_number(body, "top_p", L::kMinTopPExclusive, L::kMaxTopP, sampling.top_p),
          read_number(body, "repeat_penalty", L::kMinRepeatPenalty, L::kMaxRepeatPenalty,
                      sampling.repeat_penalty)})
        if (!s) return s;
    if (body.contains("top_p") && sampling.top_p <= L::kMinTopPExclusive)
        return invalid("top_p must be greater than 0");
    long long top_k = sampling.top_k, seed = -1, max_tokens = -1;
    for (Status s :
         {read_integer(body, "top_k", L::kMinTopK, L::kMaxTopK, top_k),
          read_integer(body, "seed", 0, L::kMaxSeed, seed),
          read_integer(body, "max_tokens", L::kMinMaxTokens, limits.max_tokens, max_tokens),
          read_integer(body, "max_completion_tokens", L::kMinMaxTokens, limits.max_tokens, max_tokens)})
        if (!s) return s;
    sampling.top_k = static_cast<int>(top_k);
    if (seed >= 0) sampling.seed = static_cast<uint32_t>(seed);
    if (max_tokens > 0) sampling.max_tokens = static_cast<int>(max_tokens);
    sampling.max_tokens = std::min(sampling.max_tokens, limits.max_tokens);
    // llama-server's extension, for benchmarks that need replies of a fixed length.
    if (Status s = read_boolean(body, "ignore_eos", sampling.ignore_end_of_turn); !s) return s;
    if (Status s = read_logprobs(body, sampling); !s) return s;
    return read_stop(body, sampling.stop);
}

bool present(const json& body, const char* name) {
    return body.contains(name) && !body[name].is_null();
}

// OpenAI fields asking for what the server cannot do: answering as if they were honoured would mislead.
Status refuse_unsupported(const json& body) {
    if (present(body, "n")) {
        const json& n = body["n"];
        if (!n.is_number_integer() || n.get<long long>() != 1)
            return invalid("n: only 1 choice per request is supported");
    }
    if (present(body, "response_format")) {
        const json& format = body["response_format"];
        if (!format.is_object() || format.value("type", json()) != "text")
            return invalid("response_format: only {\"type\":\"text\"} is supported (no JSON mode)");
    }
    if (present(body, "tools") && !(body["tools"].is_array() && body["tools"].empty()))
        return invalid("tools: tool calls are not supported");
    if (present(body, "tool_choice") && body["tool_choice"] != "none")
        return invalid("tool_choice: tool calls are not supported");
    return ok_status();
}

}  // namespace

Result<ChatCompletionRequest> parse_chat_request(std::string_view body, const ChatRequestLimits& limits) {
    if (!utf8::is_valid(body.begin(), body.end())) return invalid("request body is not valid UTF-8");
    json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return invalid("request body is not valid JSON");
    if (!parsed.is_object()) return invalid("request body must be a JSON object");

    ChatCompletionRequest request;
    if (parsed.contains("model") && !parsed["model"].is_null()) {
        if (!parsed["model"].is_string()) return invalid("model must be a string");
        request.model = parsed["model"].get<std::string>();
    }
    if (Status s = read_boolean(parsed, "stream", request.stream); !s) return s.error();
    if (parsed.contains("response_guard") && !parsed["response_guard"].is_null()) {
        bool guard = true;
        if (Status s = read_boolean(parsed, "response_guard", guard); !s) return s.error();
        request.response_guard = guard;
    }
    if (Status s = read_boolean(parsed, "debug", request.debug); !s) return s.error();
    Result<std::vector<ChatMessage>> messages = read_messages(parsed, limits);
    if (!messages) return messages.error();
    request.messages = std::move(*messages);
    if (Status s = refuse_unsupported(parsed); !s) return s.error();
    if (Status s = read_sampling(parsed, limits, request.sampling); !s) return s.error();
    return request;
}

CompletionId CompletionId::make(std::string model) {
    thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "chatcmpl-";
    for (int i = 0; i < 24; ++i) id += kHex[random() % 16];
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return CompletionId{std::move(id), std::chrono::duration_cast<std::chrono::seconds>(now).count(),
                        std::move(model)};
}

json prompt_debug_json(const PromptChoice& choice) {
    json scores = json::object();
    for (const auto& [name, score] : choice.scores) scores[name] = score;
    return {{"prompt",
             {{"snippets", choice.snippets},
              {"scores", scores},
              {"label", choice.label},
              {"tokens", choice.tokens},
              {"fallback", choice.fallback},
              {"client_prompt", choice.client_prompt}}}};
}

json usage_json(const GenerationResult& r) {
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", r.cached_prompt_tokens}}}};
}

json timings_json(const GenerationResult& r) {
    const double generation_ms = r.total_ms - r.time_to_first_token_ms;
    const double tokens_per_second = (r.completion_tokens > 1 && generation_ms > 0)
                                         ? (r.completion_tokens - 1) * 1000.0 / generation_ms
                                         : 0.0;
    return {{"time_to_first_token_ms", r.time_to_first_token_ms},
            {"total_ms", r.total_ms},
            {"tokens_per_second", tokens_per_second},
            {"dropped_messages", r.dropped_messages}};
}

namespace {
json envelope(const CompletionId& id, const char* object) {
    return {{"id", id.id}, {"object", object}, {"created", id.created}, {"model", id.model}};
}
}  // namespace

json logprobs_json(const std::vector<TokenLogprob>& logprobs) {
    auto entry = [](const TokenProbability& p) {
        json bytes = json::array();
        for (unsigned char byte : p.token) bytes.push_back(byte);
        return json{{"token", p.token}, {"logprob", p.logprob}, {"bytes", std::move(bytes)}};
    };
    json content = json::array();
    for (const TokenLogprob& token : logprobs) {
        json item = entry(token.sampled);
        item["top_logprobs"] = json::array();
        for (const TokenProbability& alternative : token.top)
            item["top_logprobs"].push_back(entry(alternative));
        content.push_back(std::move(item));
    }
    return {{"content", std::move(content)}};
}

json completion_json(const CompletionId& id, const GenerationResult& result, bool with_logprobs) {
    json out = envelope(id, "chat.completion");
    out["choices"] = json::array({{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", result.text}}},
                                   {"logprobs", with_logprobs ? logprobs_json(result.logprobs) : json()},
                                   {"finish_reason", result.finish_reason}}});
    out["usage"] = usage_json(result);
    out["timings"] = timings_json(result);
    return out;
}

json role_chunk_json(const CompletionId& id) {
    json out = envelope(id, "chat.completion.chunk");
    out["choices"] = json::array(
        {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}}});
    return out;
}

json text_chunk_json(const CompletionId& id, std::string_view text,
                     const std::vector<TokenLogprob>& logprobs) {
    json out = envelope(id, "chat.completion.chunk");
    json choice = {{"index", 0}, {"delta", {{"content", std::string(text)}}}, {"finish_reason", nullptr}};
    if (!logprobs.empty()) choice["logprobs"] = logprobs_json(logprobs);
    out["choices"] = json::array({std::move(choice)});
    return out;
}

json final_chunk_json(const CompletionId& id, const GenerationResult& result) {
    json out = envelope(id, "chat.completion.chunk");
    out["choices"] =
        json::array({{{"index", 0}, {"delta", json::object()}, {"finish_reason", result.finish_reason}}});
    out["usage"] = usage_json(result);
    out["timings"] = timings_json(result);
    return out;
}

json error_json(std::string_view code, std::string_view message, std::string_view type) {
    return {{"error",
             {{"code", std::string(code)}, {"message", std::string(message)}, {"type", std::string(type)}}}};
}

std::string to_text(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sse_event(std::string_view payload) {
    std::string out;
    out.reserve(payload.size() + 8);
    out += "data: ";
    out += payload;
    out += "\n\n";
    return out;
}

}  // namespace mimir::serve
