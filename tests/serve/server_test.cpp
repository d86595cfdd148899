// The server end to end on 127.0.0.1 with tiny models: every endpoint, SSE framing, disconnects, bad
// input, reloads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "serve_test_support.h"
#include "support/test_models.h"

namespace mimir::serve::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ServerTest : public ::testing::Test {
  protected:
    void SetUp() override { files = ModelFiles::create(mimir::test::scratch_dir()); }
    ModelPaths fine_tuned() const { return {files.fine_tuned, files.adapter, files.base}; }
    ModelFiles files;
};

void expect_error(const httplib::Result& res, int status, const std::string& type,
                  const std::string& message_part = "") {
    ASSERT_TRUE(res) << "no response";
    EXPECT_EQ(res->status, status) << res->body;
    json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_TRUE(body["error"]["code"].is_string()) << res->body;
    EXPECT_EQ(body["error"]["type"], type) << res->body;
    EXPECT_NE(body["error"]["message"].get<std::string>().find(message_part), std::string::npos) << res->body;
}

TEST_F(ServerTest, FineTunedModelIsGreenAndEveryReadEndpointAnswers) {
    TestServer server(fine_tuned());
    auto client = server.client();

    auto health = client->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(json::parse(health->body), json({{"status", "ok"}}));

    auto status = client->Get("/api/status");
    ASSERT_TRUE(status);
    json s = json::parse(status->body);
    EXPECT_EQ(s["state"], "success");
    EXPECT_EQ(s["model_type"], "fine-tuned");
    EXPECT_EQ(s["status"], "loaded");
    EXPECT_EQ(s["tooltip"], "Fine-tuned model: " + files.fine_tuned);

    auto models = client->Get("/v1/models");
    ASSERT_TRUE(models);
    json m = json::parse(models->body);
    EXPECT_EQ(m["object"], "list");
    ASSERT_EQ(m["data"].size(), 1u);
    EXPECT_EQ(m["data"][0]["id"], "mimir-fine-tuned");

    auto metrics = client->Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(metric_value(metrics->body, "mimir_model_state{state=\"success\"}"), 1);
    EXPECT_EQ(metric_value(metrics->body, "mimir_status_changes_total"), 1) << "loading -> success";
    EXPECT_GT(metric_value(metrics->body, "mimir_resident_memory_bytes"), 1e6);
    EXPECT_EQ(metric_value(metrics->body, "mimir_model_load_wins_total{strategy=\"fine-tuned\"}"), 1);

    auto page = client->Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("status-button"), std::string::npos);
    EXPECT_NE(page->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ServerTest, AdapterIsGreenAndCorruptFineTunedFallsBackToOrange) {
    {
        TestServer server(ModelPaths{"", files.adapter, files.base});
        json s = json::parse(server.client()->Get("/api/status")->body);
        EXPECT_EQ(s["state"], "success");
        EXPECT_EQ(s["model_type"], "adapter");
        EXPECT_NE(s["tooltip"].get<std::string>().find(files.adapter), std::string::npos);
    }
    TestServer server(ModelPaths{files.corrupt, "", files.base});
    json s = json::parse(server.client()->Get("/api/status")->body);
    EXPECT_EQ(s["state"], "warning");
    EXPECT_EQ(s["model_type"], "base");
    EXPECT_NE(s["tooltip"].get<std::string>().find("Fallback to base model (fine-tuned: "),
              std::string::npos);
    EXPECT_NE(s["tooltip"].get<std::string>().find("Base: " + files.base), std::string::npos);
}

TEST_F(ServerTest, NoModelIsRedAndChatAnswers503) {
    ServeOptions options = test_options();
    options.api_key.clear();
    TestServer server(ModelPaths{"", "", files.base + ".missing"}, options);
    auto client = server.client();
    auto health = client->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 503);
    json s = json::parse(client->Get("/api/status")->body);
    EXPECT_EQ(s["state"], "error");
    std::string tooltip = s["tooltip"];
    ASSERT_TRUE(tooltip.starts_with("Error: "));
    EXPECT_LE(tooltip.size() - 7, 50u);
    expect_error(client->Post("/v1/chat/completions", chat_body("hi", 4, false), "application/json"), 503,
                 "service_unavailable_error", "no model is loaded");
    EXPECT_TRUE(json::parse(client->Get("/v1/models")->body)["data"].empty());
    expect_error(client->Post("/api/models/reload", "", "application/json"), 403, "permission_error",
                 "--api-key");
}

// Streams a chat completion; returns the raw body. `stop_after_bytes` > 0 hangs up after that much.
std::string stream_chat(const TestServer& server, const std::string& body, int* status,
                        size_t stop_after_bytes = 0, std::string* content_type = nullptr) {
    auto client = server.client();
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body;
    req.set_header("Content-Type", "application/json");
    std::string received;
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
        received.append(data, size);
        return stop_after_bytes == 0 || received.size() < stop_after_bytes;
    };
    auto res = client->send(req);
    *status = res ? res->status : -1;
    if (res && content_type) *content_type = res->get_header_value("Content-Type");
    return received;
}

std::string streamed_text(const std::vector<std::string>& payloads) {
    std::string text;
    for (const std::string& p : payloads) {
        if (p == "[DONE]") break;
        json chunk = json::parse(p, nullptr, false);
        if (chunk.is_object() && chunk["choices"][0]["delta"].contains("content"))
            text += chunk["choices"][0]["delta"]["content"].get<std::string>();
    }
    return text;
}

TEST_F(ServerTest, ChatCompletionHasOpenAiShapeUsageAndTimings) {
    TestServer server(fine_tuned());
    auto res = server.client()->Post("/v1/chat/completions", chat_body("What is 2+2?", 12, false),
                                     "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    json out = json::parse(res->body);
    EXPECT_EQ(out["object"], "chat.completion");
    EXPECT_EQ(out["model"], "mimir-fine-tuned");
    EXPECT_EQ(out["choices"][0]["message"]["role"], "assistant");
    EXPECT_TRUE(out["choices"][0]["message"]["content"].is_string());
    EXPECT_TRUE(out["choices"][0]["finish_reason"] == "stop" ||
                out["choices"][0]["finish_reason"] == "length");
    EXPECT_GT(out["usage"]["prompt_tokens"].get<int>(), 5) << "system prompt and user turn";
    // The tutor prompt's KV was computed when the model loaded: the very first student reuses it.
    const int cached = out["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>();
    EXPECT_GT(cached, 0);
    EXPECT_LT(cached, out["usage"]["prompt_tokens"].get<int>());
    EXPECT_GE(out["usage"]["completion_tokens"].get<int>(), 1);
    EXPECT_LE(out["usage"]["completion_tokens"].get<int>(), 12);
    EXPECT_EQ(out["usage"]["total_tokens"].get<int>(),
              out["usage"]["prompt_tokens"].get<int>() + out["usage"]["completion_tokens"].get<int>());
    EXPECT_GT(out["timings"]["total_ms"].get<double>(), 0);
    auto metrics = server.client()->Get("/metrics")->body;
    EXPECT_EQ(metric_value(metrics, "mimir_tokens_generated_total"),
              out["usage"]["completion_tokens"].get<int>());
    EXPECT_EQ(metric_value(metrics, "mimir_time_to_first_token_seconds_count"), 1);
}

TEST_F(ServerTest, StreamIsFramedAsServerSentEventsAndMatchesTheWholeReply) {
    TestServer server(fine_tuned());
    auto whole = server.client()->Post("/v1/chat/completions", chat_body("Explain fractions.", 24, false),
                                       "application/json");
    ASSERT_TRUE(whole);
    const std::string expected = json::parse(whole->body)["choices"][0]["message"]["content"];

    int status = 0;
    std::string content_type;
    std::string body =
        stream_chat(server, chat_body("Explain fractions.", 24, true), &status, 0, &content_type);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(content_type, "text/event-stream");
    std::vector<std::string> payloads = sse_payloads(body);
    ASSERT_GE(payloads.size(), 3u) << body;
    EXPECT_EQ(payloads.back(), "[DONE]");
    json first = json::parse(payloads.front());
    EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
    for (size_t i = 0; i + 2 < payloads.size(); ++i) {
        json chunk = json::parse(payloads[i], nullptr, false);
        ASSERT_TRUE(chunk.is_object()) << payloads[i];
        EXPECT_EQ(chunk["object"], "chat.completion.chunk");
        EXPECT_EQ(chunk["id"], first["id"]);
        EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    }
    json last = json::parse(payloads[payloads.size() - 2]);
    EXPECT_TRUE(last["choices"][0]["finish_reason"] == "stop" ||
                last["choices"][0]["finish_reason"] == "length");
    EXPECT_GE(last["usage"]["completion_tokens"].get<int>(), 1);
    EXPECT_TRUE(last["timings"].contains("time_to_first_token_ms"));
    EXPECT_EQ(streamed_text(payloads), expected) << "greedy decoding gives the same text streamed or not";
}

TEST_F(ServerTest, ClientDisconnectCancelsTheGenerationAtOnce) {
    TestServer server(fine_tuned());
    int status = 0;
    std::string body = stream_chat(server, chat_body("Tell me a long story.", 1900, true, 0.8), &status, 600);
    ASSERT_GE(body.size(), 600u);
    auto client = server.client();
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    std::string metrics;
    do {
        metrics = client->Get("/metrics")->body;
        if (metric_value(metrics, "mimir_client_disconnects_total") == 1 &&
            metric_value(metrics, "mimir_active_generations") == 0 &&
            metric_value(metrics, "mimir_in_flight_requests") == 0)
            break;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(metric_value(metrics, "mimir_client_disconnects_total"), 1) << metrics;
    EXPECT_EQ(metric_value(metrics, "mimir_active_generations"), 0);
    EXPECT_EQ(metric_value(metrics, "mimir_in_flight_requests"), 0);
    EXPECT_LT(metric_value(metrics, "mimir_tokens_generated_total"), 1900)
        << "the generation did not run to the end";
    auto again = client->Post("/v1/chat/completions", chat_body("Hi", 4, false), "application/json");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
}

TEST_F(ServerTest, ClientLeavingWhileQueuedIsNoticedBeforeItsFirstToken) {
    ServeOptions options = test_options();
    options.engine.n_parallel = 1;
    TestServer server(fine_tuned(), options);
    int long_status = 0;
    std::thread long_stream(
        [&] { stream_chat(server, chat_body("A long story.", 1500, true, 0.8), &long_status); });
    auto client = server.client();
    const auto started = std::chrono::steady_clock::now() + 5s;
    while (metric_value(client->Get("/metrics")->body, "mimir_active_generations") < 1 &&
           std::chrono::steady_clock::now() < started)
        std::this_thread::sleep_for(5ms);
    // The second request waits behind the first; its client hangs up on the first bytes of the stream.
    int queued_status = 0;
    std::string queued = stream_chat(server, chat_body("Hello?", 50, true), &queued_status, 1);
    EXPECT_NE(queued.find("\"role\":\"assistant\""), std::string::npos) << "the stream started while queued";
    std::string metrics;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    do {
        metrics = client->Get("/metrics")->body;
        if (metric_value(metrics, "mimir_client_disconnects_total") == 1) break;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(metric_value(metrics, "mimir_client_disconnects_total"), 1) << metrics;
    EXPECT_EQ(metric_value(metrics, "mimir_active_generations"), 1) << "noticed while the first still runs";
    long_stream.join();
    EXPECT_EQ(long_status, 200);
}

TEST_F(ServerTest, BadInputGetsAClearErrorAndTheServerKeepsServing) {
    ServeOptions options = test_options();
    options.max_body_bytes = 1 << 20;
    TestServer server(fine_tuned(), options);
    auto client = server.client();
    auto post = [&](const std::string& body) {
        return client->Post("/v1/chat/completions", body, "application/json");
    };
    expect_error(post("{\"messages\": ["), 400, "invalid_request_error", "not valid JSON");
    expect_error(post(R"({"messages":"hello"})"), 400, "invalid_request_error", "messages must be an array");
    expect_error(post(R"({"model":"x"})"), 400, "invalid_request_error", "messages is required");
    expect_error(post("{\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}"), 400,
                 "invalid_request_error", "UTF-8");
    expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":99999999999})"), 400,
                 "invalid_request_error", "max_tokens");
    expect_error(post(R"({"messages":[{"role":"wizard","content":"x"}]})"), 400, "invalid_request_error",
                 "messages[0].role");
    expect_error(post(std::string(10 << 20, ' ')), 413, "invalid_request_error", "exceeds");
    expect_error(client->Get("/no/such/page"), 404, "invalid_request_error");
    expect_error(client->Delete("/v1/chat/completions"), 404, "invalid_request_error");

    // Traversal, sent raw: a client library would normalise the path.
    for (const char* path :
         {"/../../etc/passwd", "/vendor/..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd"}) {
        std::string reply = raw_exchange(
            server.port(), std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        EXPECT_TRUE(reply.starts_with("HTTP/1.1 400") || reply.starts_with("HTTP/1.1 404"))
            << path << ": " << reply.substr(0, 80);
        EXPECT_EQ(reply.find("root:"), std::string::npos);
    }

    // A slow client that never finishes its headers is dropped after the read timeout; others are served.
    std::string slow_reply;
    std::thread slow([&] {
        slow_reply =
            raw_exchange(server.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le", 4000);
    });
    std::this_thread::sleep_for(100ms);
    auto health = client->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    slow.join();
    EXPECT_TRUE(slow_reply.starts_with("HTTP/1.1 400")) << slow_reply.substr(0, 80);
    EXPECT_NE(slow_reply.find("not complete within 2 s"), std::string::npos) << slow_reply;
    // A body announced but never sent in full.
    std::string reply = raw_exchange(server.port(),
                                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                     "application/json\r\nContent-Length: 100\r\n\r\n{\"messages\"",
                                     4000);
    EXPECT_FALSE(reply.starts_with("HTTP/1.1 200")) << reply;

    auto ok = post(chat_body("Still there?", 4, false));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_GE(metric_value(client->Get("/metrics")->body,
                           "mimir_errors_total{type=\"invalid_request_error\",code=\"invalid_request\"}"),
              6);
}

TEST_F(ServerTest, RefusedFieldsAndEngineRefusalsGetTheirHttpStatus) {
    TestServer server(fine_tuned());
    auto client = server.client();
    const std::string user = R"("messages":[{"role":"user","content":"x"}])";
    const std::pair<const char*, const char*> refused[] = {
        {R"("n":3)", "n:"},
        {R"("response_format":{"type":"json_object"})", "response_format"},
        {R"("tools":[{"type":"function","function":{"name":"f"}}])", "tools"}};
    for (const auto& [field, named] : refused) {
        for (const char* stream : {"false", "true"}) {
            expect_error(
                client->Post("/v1/chat/completions",
                             "{" + user + "," + field + R"(,"stream":)" + stream + "}", "application/json"),
                400, "invalid_request_error", named);
        }
    }
    // A last turn that cannot fit the context is refused before the stream starts, with the OpenAI code.
    std::string text;
    for (int i = 0; i < 3000; ++i) text += "word" + std::to_string(i) + " ";
    auto res = client->Post("/v1/chat/completions", chat_body(text, 8, true), "application/json");
    expect_error(res, 400, "invalid_request_error");
    EXPECT_EQ(json::parse(res->body)["error"]["code"], "context_length_exceeded");
}

TEST_F(ServerTest, LogprobsWholeAndStreamedAgree) {
    TestServer server(fine_tuned());
    json request = json::parse(chat_body("Explain fractions.", 16, false));
    request["logprobs"] = true;
    request["top_logprobs"] = 3;
    request["ignore_eos"] = true;
    request["repeat_penalty"] = 1.0;  // plain greedy: the sampled token is the likeliest
    auto whole = server.client()->Post("/v1/chat/completions", request.dump(), "application/json");
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->status, 200) << whole->body;
    const json choice = json::parse(whole->body)["choices"][0];
    const json& content = choice["logprobs"]["content"];
    ASSERT_EQ(content.size(), 16u) << whole->body;
    for (const json& token : content) {
        EXPECT_LE(token["logprob"].get<double>(), 0.0);
        ASSERT_EQ(token["top_logprobs"].size(), 3u);
        EXPECT_EQ(token["top_logprobs"][0]["token"], token["token"]) << "greedy: the likeliest token";
        EXPECT_TRUE(token["bytes"].is_array());
    }

    request["stream"] = true;
    int status = 0;
    std::vector<std::string> payloads = sse_payloads(stream_chat(server, request.dump(), &status));
    EXPECT_EQ(status, 200);
    json streamed = json::array();
    for (const std::string& payload : payloads) {
        json chunk = json::parse(payload, nullptr, false);
        if (!chunk.is_object() || !chunk["choices"][0].contains("logprobs")) continue;
        for (const json& token : chunk["choices"][0]["logprobs"]["content"]) streamed.push_back(token);
    }
    // The same tokens; the values may differ in the last digits (the second request reuses cached KV).
    ASSERT_EQ(streamed.size(), content.size());
    for (size_t i = 0; i < content.size(); ++i) {
        EXPECT_EQ(streamed[i]["token"], content[i]["token"]) << i;
        EXPECT_NEAR(streamed[i]["logprob"].get<double>(), content[i]["logprob"].get<double>(), 1e-2) << i;
    }
}

TEST_F(ServerTest, RateLimitAnswers429WithRetryAfter) {
    ServeOptions options = test_options();
    options.rate_limit_per_minute = 6;
    options.rate_limit_burst = 2;
    TestServer server(fine_tuned(), options);
    auto client = server.client();
    for (int i = 0; i < 2; ++i)
        EXPECT_EQ(client->Post("/v1/chat/completions", chat_body("x", 2, false), "application/json")->status,
                  200);
    auto limited = client->Post("/v1/chat/completions", chat_body("x", 2, false), "application/json");
    expect_error(limited, 429, "rate_limit_error", "too many requests");
    EXPECT_EQ(limited->get_header_value("Retry-After"), "10");
    EXPECT_EQ(client->Get("/api/status")->status, 200) << "status is never rate limited";
    // Without --trust-proxy a forwarded address is ignored: still the same client.
    httplib::Headers forwarded = {{"X-Forwarded-For", "203.0.113.9"}};
    EXPECT_EQ(
        client->Post("/v1/chat/completions", forwarded, chat_body("x", 2, false), "application/json")->status,
        429);
}

TEST_F(ServerTest, BehindATrustedProxyEachForwardedClientHasItsOwnBudget) {
    ServeOptions options = test_options();
    options.rate_limit_per_minute = 6;
    options.rate_limit_burst = 1;
    options.trust_forwarded_for = true;
    TestServer server(fine_tuned(), options);
    auto client = server.client();
    auto post = [&](const std::string& forwarded_for) {
        return client
            ->Post("/v1/chat/completions", httplib::Headers{{"X-Forwarded-For", forwarded_for}},
                   chat_body("x", 2, false), "application/json")
            ->status;
    };
    EXPECT_EQ(post("198.51.100.1"), 200);
    EXPECT_EQ(post("198.51.100.1"), 429);
    EXPECT_EQ(post("spoofed, 198.51.100.2"), 200) << "the proxy's entry (the last) counts";
    EXPECT_EQ(post("198.51.100.1, 198.51.100.2"), 429);
}

TEST_F(ServerTest, ReloadNeedsTheKeyAndSwapsModelsWhileAStreamFinishesOnTheOldOne) {
    TestServer server(fine_tuned());
    auto client = server.client();
    expect_error(client->Post("/api/models/reload", "", "application/json"), 401, "authentication_error",
                 "required");
    httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
    expect_error(client->Post("/api/models/reload", wrong, "", "application/json"), 401,
                 "authentication_error", "not valid");

    int stream_status = 0;
    std::string stream_body;
    std::thread streaming([&] {
        stream_body = stream_chat(server, chat_body("Count slowly.", 400, true, 0.8), &stream_status);
    });
    // Reload once the stream has started, with the fine-tuned file now corrupt: the server falls back.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (metric_value(client->Get("/metrics")->body, "mimir_active_generations") < 1 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    // Replaced by rename, which deployments started with --mmap must do (overwriting in place is tested
    // below for the default, models read into memory).
    std::filesystem::copy_file(files.corrupt, files.fine_tuned + ".new");
    std::filesystem::rename(files.fine_tuned + ".new", files.fine_tuned);
    httplib::Headers key = {{"Authorization", "Bearer test-key"}};
    auto reload = client->Post("/api/models/reload", key, "", "application/json");
    ASSERT_TRUE(reload);
    ASSERT_EQ(reload->status, 200) << reload->body;
    EXPECT_EQ(json::parse(reload->body)["model_type"], "adapter");
    EXPECT_EQ(json::parse(reload->body)["state"], "success");
    streaming.join();
    EXPECT_EQ(stream_status, 200);
    std::vector<std::string> payloads = sse_payloads(stream_body);
    ASSERT_GE(payloads.size(), 2u);
    EXPECT_EQ(payloads.back(), "[DONE]") << "the stream on the old model finished";

    std::filesystem::remove(files.adapter);
    auto second = client->Post("/api/models/reload", httplib::Headers{{"X-API-Key", "test-key"}}, "",
                               "application/json");
    ASSERT_TRUE(second);
    json s = json::parse(second->body);
    EXPECT_EQ(s["state"], "warning");
    EXPECT_EQ(json::parse(client->Get("/api/status")->body)["state"], "warning");
    EXPECT_EQ(client->Post("/v1/chat/completions", chat_body("Hi", 4, false), "application/json")->status,
              200);
    EXPECT_EQ(json::parse(client->Get("/v1/models")->body)["data"][0]["id"], "mimir-base");
    EXPECT_EQ(metric_value(client->Get("/metrics")->body, "mimir_status_changes_total"), 3)
        << "loading -> fine-tuned -> adapter -> base";
}

TEST_F(ServerTest, OverwritingAServedFileInPlaceLeavesTheServerServing) {
    TestServer server({"", "", files.base});
    auto client = server.client();
    ASSERT_EQ(client->Post("/v1/chat/completions", chat_body("Hi", 4, false), "application/json")->status,
              200);
    // What `cp new.gguf base.gguf` does to the served file first: truncates it. A mapped model would lose
    // its pages under it (SIGBUS: the whole process gone); a model read into memory does not notice.
    std::ofstream(files.base, std::ios::binary | std::ios::trunc) << "GGUF";
    auto again = client->Post("/v1/chat/completions", chat_body("Hello again", 8, false), "application/json");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200) << again->body;
}

TEST_F(ServerTest, AReloadWhereEveryTierFailsKeepsThePreviousModelServing) {
    TestServer server(fine_tuned());
    auto client = server.client();
    for (const std::string& path : {files.fine_tuned, files.adapter, files.base})
        std::filesystem::remove(path);
    httplib::Headers key = {{"Authorization", "Bearer test-key"}};
    expect_error(client->Post("/api/models/reload", key, "", "application/json"), 422,
                 "invalid_request_error", "the previous model keeps serving");
    json status = json::parse(client->Get("/api/status")->body);
    EXPECT_EQ(status["state"], "success");
    EXPECT_EQ(status["model_type"], "fine-tuned");
    EXPECT_EQ(client->Get("/health")->status, 200);
    EXPECT_EQ(client->Post("/v1/chat/completions", chat_body("Hi", 4, false), "application/json")->status,
              200);
}

}  // namespace
}  // namespace mimir::serve::test
