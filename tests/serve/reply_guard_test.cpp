// The response guard in the chat route: scripted event sequences through StreamReplyGuard (deterministic),
// and the server end to end with a tiny model, whose raw reply is arbitrary text, so what the guard makes
// of it is compared with guard_reply on the same reply fetched with the guard off; a cut reply, streamed
// or not, stops the generation.
#include "serve/reply_guard.h"

#include <gtest/gtest.h>

#include "serve/chat_request.h"
#include "serve_test_support.h"
#include "support/test_models.h"

namespace mimir::serve::test {
namespace {

using nlohmann::json;

const GuardSettings kShort{.max_words = 8, .hold_words = 4};

std::string metrics_text(const ServerMetrics& metrics) {
    return metrics.render(MetricsSnapshotInputs{});
}

TEST(StreamReplyGuard, ScriptedStreamIsGuardedCutAndCounted) {
    ServerMetrics metrics;
    StreamReplyGuard guard(kShort, metrics);
    const std::vector<std::string> pieces = {"Great",      "!!! :",       ") This is one. ", "Two -- three",
                                             " four five", " six seven.", " Never sent."};
    std::string sent, whole;
    for (const std::string& piece : pieces) {
        whole += piece;
        if (guard.stopped()) break;  // the route cancels the generation here
        sent += guard.on_text(piece);
    }
    EXPECT_TRUE(guard.stopped());
    GenerationResult result{.text = whole, .finish_reason = "cancelled"};
    sent += guard.on_finished(result);
    GuardTally tally;
    EXPECT_EQ(sent, guard_reply(whole, kShort, &tally));
    EXPECT_EQ(sent, "Great! This is one.");
    EXPECT_EQ(result.text, sent);
    EXPECT_EQ(result.finish_reason, "length");
    const std::string text = metrics_text(metrics);
    EXPECT_EQ(metric_value(text, "mimir_response_guard_replies_total"), 1);
    EXPECT_EQ(metric_value(text, "mimir_response_guard_replies_changed_total"), 1);
    EXPECT_EQ(metric_value(text, "mimir_response_guard_emoticons_total"), 1);
    EXPECT_EQ(metric_value(text, "mimir_response_guard_exclamations_total"), 1);
    EXPECT_EQ(metric_value(text, "mimir_response_guard_length_total"), 1);
    EXPECT_EQ(metric_value(text, "mimir_response_guard_dashes_total"),
              static_cast<double>(tally.of(GuardRule::Dashes)));
    EXPECT_NE(text.find("# TYPE mimir_response_guard_dashes_total counter"), std::string::npos);
    EXPECT_NE(text.find("# HELP mimir_response_guard_length_total "), std::string::npos);
}

TEST(StreamReplyGuard, OffPassesTextThroughAndCountsNothing) {
    ServerMetrics metrics;
    StreamReplyGuard guard(guard_settings_for(kShort, false), metrics);
    EXPECT_EQ(guard.on_text("Wow!!! :) "), "Wow!!! :) ");
    EXPECT_EQ(guard.on_text("one two three four five six seven eight nine ten"),
              "one two three four five six seven eight nine ten");
    EXPECT_FALSE(guard.stopped());
    GenerationResult result{.text = "raw", .finish_reason = "stop"};
    EXPECT_EQ(guard.on_finished(result), "");
    EXPECT_EQ(result.text, "raw");
    EXPECT_EQ(result.finish_reason, "stop");
    EXPECT_EQ(metric_value(metrics_text(metrics), "mimir_response_guard_replies_total"), 0);
}

TEST(StreamReplyGuard, RequestOverridesTheServerSetting) {
    EXPECT_TRUE(guard_settings_for(GuardSettings{.enabled = false}, true).enabled);
    EXPECT_FALSE(guard_settings_for(GuardSettings{}, false).enabled);
    EXPECT_TRUE(guard_settings_for(GuardSettings{}, std::nullopt).enabled);
    EXPECT_EQ(guard_settings_for(kShort, true).max_words, 8);
}

TEST(StreamReplyGuard, RequestFieldMustBeABoolean) {
    const std::string messages = R"("messages":[{"role":"user","content":"hi"}])";
    auto off = parse_chat_request("{" + messages + R"(,"response_guard":false})", {});
    ASSERT_TRUE(off);
    EXPECT_EQ(off->response_guard, false);
    auto absent = parse_chat_request("{" + messages + "}", {});
    ASSERT_TRUE(absent);
    EXPECT_FALSE(absent->response_guard.has_value());
    auto bad = parse_chat_request("{" + messages + R"(,"response_guard":"yes"})", {});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("response_guard"), std::string::npos);
}

std::string content_of(const std::string& body, bool stream, std::string* finish_reason) {
    if (!stream) {
        const json out = json::parse(body);
        *finish_reason = out["choices"][0]["finish_reason"];
        return out["choices"][0]["message"]["content"];
    }
    std::string text;
    for (const std::string& payload : sse_payloads(body)) {
        const json chunk = json::parse(payload, nullptr, false);
        if (!chunk.is_object()) continue;
        const json& choice = chunk["choices"][0];
        if (choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
        if (choice["finish_reason"].is_string()) *finish_reason = choice["finish_reason"];
    }
    return text;
}

TEST(ServerResponseGuard, StreamedAndWholeRepliesAreGuardedUnlessTheRequestSaysNo) {
    const ModelFiles files = ModelFiles::create(mimir::test::scratch_dir());
    ServeOptions options = test_options();
    options.response_guard = kShort;
    TestServer server({files.fine_tuned, files.adapter, files.base}, options);
    int usage_of_last_whole_reply = 0;
    auto ask = [&](bool stream, std::optional<bool> guard, std::string* finish_reason, int max_tokens = 48) {
        json request = json::parse(chat_body("Explain fractions.", max_tokens, stream));
        request["ignore_eos"] = true;
        if (guard) request["response_guard"] = *guard;
        auto res = server.client()->Post("/v1/chat/completions", request.dump(), "application/json");
        EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no response");
        if (res && !stream) usage_of_last_whole_reply = json::parse(res->body)["usage"]["completion_tokens"];
        return res ? content_of(res->body, stream, finish_reason) : std::string();
    };
    std::string raw_finish, finish;
    const std::string raw = ask(false, false, &raw_finish);
    EXPECT_EQ(raw_finish, "length");  // 48 tokens, end of turn ignored
    GuardTally tally;
    const std::string expected = guard_reply(raw, kShort, &tally);
    const std::string expected_finish = tally.of(GuardRule::Length) > 0 ? "length" : raw_finish;

    EXPECT_EQ(ask(false, std::nullopt, &finish), expected);
    EXPECT_EQ(finish, expected_finish);
    ASSERT_GT(tally.of(GuardRule::Length), 0) << "the raw reply should run past 8 words: " << raw;
    // A cut whole reply stops generating at the cut, as a stream does (it used to run on to max_tokens):
    // with room for 300 tokens it still ends within the 48 that held the cut, even if this reader is late.
    EXPECT_EQ(ask(false, std::nullopt, &finish, 300), expected);
    EXPECT_EQ(finish, "length");
    EXPECT_LT(usage_of_last_whole_reply, 300);
    EXPECT_EQ(ask(true, true, &finish), expected);
    EXPECT_EQ(finish, expected_finish);
    EXPECT_EQ(ask(true, false, &finish), raw);

    const std::string metrics = server.client()->Get("/metrics")->body;
    EXPECT_EQ(metric_value(metrics, "mimir_response_guard_replies_total"), 3);
    EXPECT_EQ(metric_value(metrics, "mimir_response_guard_length_total"), 3.0 * tally.of(GuardRule::Length));
    EXPECT_EQ(metric_value(metrics, "mimir_response_guard_emoticons_total"),
              3.0 * tally.of(GuardRule::Emoticons));
    EXPECT_EQ(metric_value(metrics, "mimir_response_guard_replies_changed_total"), tally.changed() ? 3 : 0);
}

}  // namespace
}  // namespace mimir::serve::test
