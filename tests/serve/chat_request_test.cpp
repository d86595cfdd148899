#include "serve/chat_request.h"

#include <gtest/gtest.h>

#include "model/sampler.h"

namespace mimir::serve {
namespace {

using nlohmann::json;

Result<ChatCompletionRequest> parse(const std::string& body) {
    return parse_chat_request(body, ChatRequestLimits{});
}

std::string error_of(const std::string& body) {
    auto parsed = parse(body);
    EXPECT_FALSE(parsed.ok()) << body;
    if (parsed.ok()) return "";
    EXPECT_EQ(parsed.error().code, "invalid_request");
    return parsed.error().message;
}

TEST(ChatRequest, ParsesTheOpenAiShape) {
    auto parsed = parse(R"({"model":"m","stream":true,"max_tokens":32,"temperature":0.2,"top_p":0.5,
        "top_k":7,"seed":99,"stop":["END"],"messages":[{"role":"system","content":"Be brief."},
        {"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},
        {"role":"user","content":[{"type":"text","text":"What is "},{"type":"text","text":"2+2?"}]}],
        "n":1,"logprobs":false})");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->model, "m");
    EXPECT_TRUE(parsed->stream);
    ASSERT_EQ(parsed->messages.size(), 4u);
    EXPECT_EQ(parsed->messages[0].role, "system");
    EXPECT_EQ(parsed->messages[3].content, "What is 2+2?");
    EXPECT_EQ(parsed->sampling.max_tokens, 32);
    EXPECT_FLOAT_EQ(parsed->sampling.temperature, 0.2f);
    EXPECT_FLOAT_EQ(parsed->sampling.top_p, 0.5f);
    EXPECT_EQ(parsed->sampling.top_k, 7);
    EXPECT_EQ(parsed->sampling.seed, 99u);
    EXPECT_EQ(parsed->sampling.stop, std::vector<std::string>{"END"});
}

TEST(ChatRequest, DefaultsWhenOptionalFieldsAreMissingOrNull) {
    auto parsed = parse(R"({"messages":[{"role":"user","content":"Hi"}],"temperature":null,"stop":"x"})");
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->stream);
    EXPECT_EQ(parsed->sampling.max_tokens, SamplingParams{}.max_tokens);
    EXPECT_FLOAT_EQ(parsed->sampling.temperature, SamplingParams{}.temperature);
    EXPECT_EQ(parsed->sampling.stop, std::vector<std::string>{"x"});
}

TEST(ChatRequest, RefusesMalformedJson) {
    EXPECT_EQ(error_of(R"({"messages":[)"), "request body is not valid JSON");
    EXPECT_EQ(error_of(""), "request body is not valid JSON");
    EXPECT_EQ(error_of("[1,2]"), "request body must be a JSON object");
}

TEST(ChatRequest, RefusesInvalidUtf8) {
    EXPECT_EQ(error_of("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}"),
              "request body is not valid UTF-8");
}

TEST(ChatRequest, NamesTheFieldWithTheWrongType) {
    EXPECT_EQ(error_of(R"({})"), "messages is required");
    EXPECT_EQ(error_of(R"({"messages":"hi"})"), "messages must be an array");
    EXPECT_EQ(error_of(R"({"messages":[]})"), "messages must not be empty");
    EXPECT_EQ(error_of(R"({"messages":[5]})"), "messages[0] must be an object");
    EXPECT_EQ(error_of(R"({"messages":[{"content":"x"}]})"), "messages[0].role must be a string");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":"a"},{"role":"tool","content":"x"}]})"),
              "messages[1].role must be one of system, user, assistant");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user"}]})"), "messages[0].content is required");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":7}]})"),
              "messages[0].content must be a string or an array of text parts");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":""}]})"),
              "messages[0].content must not be empty");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})"),
              "messages[0].content[0] must be {\"type\":\"text\",\"text\":string}");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})"),
              "stream must be true or false");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":"x"}],"model":1})"),
              "model must be a string");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})"),
              "temperature must be a number");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1.5})"),
              "max_tokens must be an integer");
    EXPECT_EQ(error_of(R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})"),
              "stop must be a string or an array of strings");
}

TEST(ChatRequest, RefusesValuesOutOfRange) {
    const std::string user = R"("messages":[{"role":"user","content":"x"}])";
    EXPECT_EQ(error_of("{" + user + R"(,"max_tokens":100000000000})"),
              "max_tokens must be between 1 and 4096");
    EXPECT_EQ(error_of("{" + user + R"(,"max_tokens":18446744073709551615})"),
              "max_tokens must be between 1 and 4096");
    EXPECT_EQ(error_of("{" + user + R"(,"max_tokens":0})"), "max_tokens must be between 1 and 4096");
    EXPECT_EQ(error_of("{" + user + R"(,"max_completion_tokens":-3})"),
              "max_completion_tokens must be between 1 and 4096");
    EXPECT_EQ(error_of("{" + user + R"(,"temperature":3})"), "temperature must be between 0 and 2");
    EXPECT_EQ(error_of("{" + user + R"(,"top_p":0})"), "top_p must be greater than 0");
    EXPECT_EQ(error_of("{" + user + R"(,"seed":-1})"), "seed must be between 0 and 4294967295");
    EXPECT_EQ(error_of("{" + user + R"(,"stop":["a","b","c","d","e"]})"), "stop has more than 4 strings");
}

TEST(ChatRequest, RefusesFieldsAskingForWhatTheServerCannotDo) {
    const std::string user = R"("messages":[{"role":"user","content":"x"}])";
    EXPECT_NE(error_of("{" + user + R"(,"n":2})").find("n:"), std::string::npos);
    EXPECT_NE(error_of("{" + user + R"(,"n":"1"})").find("n:"), std::string::npos);
    EXPECT_NE(error_of("{" + user + R"(,"response_format":{"type":"json_object"}})").find("response_format"),
              std::string::npos);
    EXPECT_NE(error_of("{" + user + R"(,"response_format":"text"})").find("response_format"),
              std::string::npos);
    EXPECT_NE(
        error_of("{" + user + R"(,"tools":[{"type":"function","function":{"name":"f"}}]})").find("tools"),
        std::string::npos);
    EXPECT_NE(error_of("{" + user + R"(,"tool_choice":"auto"})").find("tool_choice"), std::string::npos);
    // What asks for nothing beyond the default is accepted, and so are harmless fields.
    for (const char* fine : {R"("n":1)", R"("response_format":{"type":"text"})", R"("tools":[])",
                             R"("tool_choice":"none")", R"("n":null,"tools":null)", R"("user":"student-7")",
                             R"("frequency_penalty":0.5,"presence_penalty":0.1)"}) {
        auto parsed = parse("{" + user + "," + fine + "}");
        EXPECT_TRUE(parsed.ok()) << fine << ": " << parsed.error().message;
    }
}

TEST(ChatRequest, ReadsLogprobs) {
    const std::string user = R"("messages":[{"role":"user","content":"x"}])";
    auto plain = parse("{" + user + "}");
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE(plain->sampling.logprobs);
    auto parsed = parse("{" + user + R"(,"logprobs":true,"top_logprobs":20})");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_TRUE(parsed->sampling.logprobs);
    EXPECT_EQ(parsed->sampling.top_logprobs, 20);
    EXPECT_EQ(error_of("{" + user + R"(,"logprobs":true,"top_logprobs":21})"),
              "top_logprobs must be between 0 and 20");
    EXPECT_EQ(error_of("{" + user + R"(,"top_logprobs":2})"), "top_logprobs needs \"logprobs\": true");
    EXPECT_EQ(error_of("{" + user + R"(,"logprobs":1})"), "logprobs must be true or false");
    // What the HTTP layer accepts, the engine accepts too: one set of limits.
    EXPECT_TRUE(validate_sampling(parsed->sampling).ok());
}

TEST(ChatRequest, AcceptsExactlyTheEnginesSamplingLimits) {
    using L = SamplingLimits;
    const std::string user = R"("messages":[{"role":"user","content":"x"}])";
    auto edge = parse("{" + user + R"(,"temperature":)" + std::to_string(L::kMaxTemperature) +
                      R"(,"repeat_penalty":)" + std::to_string(L::kMinRepeatPenalty) + R"(,"top_k":)" +
                      std::to_string(L::kMaxTopK) + R"(,"stop":["a","b","c","d"]})");
    ASSERT_TRUE(edge.ok()) << edge.error().message;
    EXPECT_TRUE(validate_sampling(edge->sampling).ok());
    EXPECT_FALSE(
        parse("{" + user + R"(,"repeat_penalty":)" + std::to_string(L::kMaxRepeatPenalty + 0.5f) + "}").ok());
    EXPECT_FALSE(parse("{" + user + R"(,"top_k":)" + std::to_string(L::kMaxTopK + 1) + "}").ok());
    EXPECT_FALSE(parse("{" + user + R"(,"stop":[")" + std::string(L::kMaxStopBytes + 1, 'a') + "\"]}").ok());
}

TEST(ChatRequest, IgnoreEosKeepsGeneratingPastTheEndOfTurn) {
    const std::string user = R"("messages":[{"role":"user","content":"x"}])";
    auto parsed = parse("{" + user + R"(,"ignore_eos":true})");
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(parsed->sampling.ignore_end_of_turn);
    EXPECT_FALSE(parse("{" + user + "}")->sampling.ignore_end_of_turn);
    EXPECT_EQ(error_of("{" + user + R"(,"ignore_eos":1})"), "ignore_eos must be true or false");
}

TEST(ChatRequest, CapsMaxTokensAtTheContextSize) {
    ChatRequestLimits limits;
    limits.max_tokens = 100;
    auto parsed = parse_chat_request(R"({"messages":[{"role":"user","content":"x"}]})", limits);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->sampling.max_tokens, 100);
}

TEST(ChatRequest, RefusesTooManyMessages) {
    json body = {{"messages", json::array()}};
    for (int i = 0; i < 300; ++i) body["messages"].push_back({{"role", "user"}, {"content", "x"}});
    EXPECT_EQ(error_of(body.dump()), "messages has 300 entries; at most 256 are accepted");
}

GenerationResult sample_result() {
    GenerationResult r;
    r.text = "Four.";
    r.finish_reason = "stop";
    r.prompt_tokens = 10;
    r.completion_tokens = 3;
    r.cached_prompt_tokens = 4;
    r.time_to_first_token_ms = 50;
    r.total_ms = 150;
    return r;
}

TEST(ChatResponse, CompletionHasTheOpenAiShapeWithUsageAndTimings) {
    CompletionId id = CompletionId::make("mimir-base");
    EXPECT_EQ(id.id.rfind("chatcmpl-", 0), 0u);
    EXPECT_EQ(id.id.size(), 9u + 24u);
    EXPECT_NE(CompletionId::make("x").id, id.id);
    json out = completion_json(id, sample_result());
    EXPECT_EQ(out["object"], "chat.completion");
    EXPECT_EQ(out["model"], "mimir-base");
    EXPECT_EQ(out["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(out["choices"][0]["message"]["content"], "Four.");
    EXPECT_EQ(out["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(out["usage"]["prompt_tokens"], 10);
    EXPECT_EQ(out["usage"]["completion_tokens"], 3);
    EXPECT_EQ(out["usage"]["total_tokens"], 13);
    EXPECT_EQ(out["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
    EXPECT_DOUBLE_EQ(out["timings"]["time_to_first_token_ms"].get<double>(), 50);
    EXPECT_DOUBLE_EQ(out["timings"]["tokens_per_second"].get<double>(), 2 * 1000.0 / 100);
}

TEST(ChatResponse, ChunksCarryRoleThenTextThenFinishReason) {
    CompletionId id = CompletionId::make("mimir-adapter");
    json role = role_chunk_json(id), text = text_chunk_json(id, "Hel"),
         last = final_chunk_json(id, sample_result());
    for (const json* chunk : {&role, &text, &last}) {
        EXPECT_EQ((*chunk)["object"], "chat.completion.chunk");
        EXPECT_EQ((*chunk)["id"], id.id);
    }
    EXPECT_EQ(role["choices"][0]["delta"]["role"], "assistant");
    EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(text["choices"][0]["delta"]["content"], "Hel");
    EXPECT_TRUE(text["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
    EXPECT_TRUE(last["choices"][0]["delta"].empty());
    EXPECT_EQ(last["usage"]["completion_tokens"], 3);
}

TEST(ChatResponse, LogprobsHaveTheOpenAiShape) {
    GenerationResult result = sample_result();
    result.logprobs = {{.sampled = {"Fo", -0.25f}, .top = {{"Fo", -0.25f}, {"Th", -1.5f}}},
                       {.sampled = {"ur.", -0.5f}, .top = {}}};
    const CompletionId id = CompletionId::make("mimir-base");
    json whole = completion_json(id, result, true);
    const json& content = whole["choices"][0]["logprobs"]["content"];
    ASSERT_EQ(content.size(), 2u);
    EXPECT_EQ(content[0]["token"], "Fo");
    EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.25f);
    EXPECT_EQ(content[0]["bytes"], json({70, 111}));
    ASSERT_EQ(content[0]["top_logprobs"].size(), 2u);
    EXPECT_EQ(content[0]["top_logprobs"][1]["token"], "Th");
    EXPECT_EQ(content[0]["top_logprobs"][1]["bytes"], json({84, 104}));
    EXPECT_TRUE(content[1]["top_logprobs"].empty());
    EXPECT_TRUE(completion_json(id, result)["choices"][0]["logprobs"].is_null()) << "not asked for";

    json chunk = text_chunk_json(id, "Four.", result.logprobs);
    EXPECT_EQ(chunk["choices"][0]["logprobs"]["content"], content);
    EXPECT_FALSE(text_chunk_json(id, "Four.")["choices"][0].contains("logprobs"));
    // A token that is part of a UTF-8 character: `bytes` keeps it exactly.
    json partial = logprobs_json({{.sampled = {"\xC3", -1.0f}, .top = {}}});
    EXPECT_EQ(partial["content"][0]["bytes"], json({0xC3}));
    EXPECT_NO_THROW(to_text(partial));
}

TEST(ChatResponse, SseEventFramingAndErrorBody) {
    EXPECT_EQ(sse_event(R"({"a":1})"), "data: {\"a\":1}\n\n");
    EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
    json error = error_json("invalid_request", "messages is required", "invalid_request_error");
    EXPECT_EQ(
        to_text(error),
        R"({"error":{"code":"invalid_request","message":"messages is required","type":"invalid_request_error"}})");
}

TEST(ChatResponse, TextWithInvalidUtf8NeverThrowsAndHasNoNewlines) {
    CompletionId id = CompletionId::make("m");
    std::string text = to_text(text_chunk_json(id, "a\xff\nb"));
    EXPECT_NE(text.find("\\n"), std::string::npos);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

}  // namespace
}  // namespace mimir::serve
