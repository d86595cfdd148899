#include "serve/chat_request.h"

#include <gtest/gtest.h>

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
