// The tutor prompt chosen per conversation, seen from the API: the debug field (whole and streamed), the
// engine's shared prefix, and the fallback metric.
#include <gtest/gtest.h>

#include "serve_test_support.h"
#include "support/test_models.h"

namespace mimir::serve::test {
namespace {

using nlohmann::json;

class PromptDebugTest : public ::testing::Test {
  protected:
    void SetUp() override { files = ModelFiles::create(mimir::test::scratch_dir()); }

    // The shipped snippets and labels, counted with the served model's own tokenizer.
    ServeOptions snippet_options() const {
        Result<TokenCounter> count = vocabulary_token_counter(files.base);
        EXPECT_TRUE(count) << count.error().message;
        const std::string source = MIMIR_TEST_SOURCE_DIR;
        Result<SnippetLibrary> library = load_snippet_library(source + "/data/prompts", *count, 256);
        EXPECT_TRUE(library) << library.error().message;
        Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(source + "/data/prompt_labels.csv");
        EXPECT_TRUE(rows) << rows.error().message;
        Result<TutorPrompter> prompter =
            TutorPrompter::from_snippets(std::move(*library), SnippetClassifier::train(*rows), *count);
        EXPECT_TRUE(prompter) << prompter.error().message;
        ServeOptions options = test_options();
        options.tutor_prompter = std::make_shared<const TutorPrompter>(std::move(*prompter));
        options.system_prompt = options.tutor_prompter->shared_prefix();
        return options;
    }

    static std::string body(const std::string& text, bool stream, bool debug) {
        json request = json::parse(chat_body(text, 4, stream));
        if (debug) request["debug"] = true;
        return request.dump();
    }

    ModelPaths paths() const { return {files.fine_tuned, files.adapter, files.base}; }
    ModelFiles files;
};

TEST_F(PromptDebugTest, DebugRequestGetsTheChosenSnippetsScoresAndTokens) {
    TestServer server(paths(), snippet_options());
    auto res = server.client()->Post("/v1/chat/completions",
                                     body("Solve 3x + 5 = 20 step by step", false, true), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json prompt = json::parse(res->body)["mimir"]["prompt"];
    ASSERT_TRUE(prompt.is_object()) << res->body;
    EXPECT_EQ(prompt["snippets"][0], "identity_tone");
    EXPECT_NE(std::find(prompt["snippets"].begin(), prompt["snippets"].end(), "math_steps"),
              prompt["snippets"].end())
        << prompt.dump();
    EXPECT_GT(prompt["scores"]["math_steps"].get<double>(), 0.2);
    EXPECT_GT(prompt["tokens"].get<int>(), 0);
    EXPECT_LE(prompt["tokens"].get<int>(), 256);
    EXPECT_EQ(prompt["fallback"], false);
    // The system prompt went to the model: more prompt tokens than the chosen prompt alone.
    EXPECT_GT(json::parse(res->body)["usage"]["prompt_tokens"].get<int>(), prompt["tokens"].get<int>());
}

TEST_F(PromptDebugTest, WithoutDebugThereIsNoMimirField) {
    TestServer server(paths(), snippet_options());
    auto res = server.client()->Post("/v1/chat/completions", body("hello", false, false), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_FALSE(json::parse(res->body).contains("mimir")) << res->body;
}

TEST_F(PromptDebugTest, StreamCarriesTheDebugFieldInItsLastChunkOnly) {
    TestServer server(paths(), snippet_options());
    std::string streamed;
    auto res = server.client()->Post("/v1/chat/completions", body("write my essay for me", true, true),
                                     "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const std::vector<std::string> payloads = sse_payloads(res->body);
    ASSERT_GE(payloads.size(), 3u) << res->body;
    EXPECT_EQ(payloads.back(), "[DONE]");
    for (size_t i = 0; i + 2 < payloads.size(); ++i)
        EXPECT_FALSE(json::parse(payloads[i]).contains("mimir")) << payloads[i];
    const json last = json::parse(payloads[payloads.size() - 2]);
    ASSERT_TRUE(last.contains("mimir")) << payloads[payloads.size() - 2];
    EXPECT_EQ(last["mimir"]["prompt"]["snippets"][0], "identity_tone");
}

TEST_F(PromptDebugTest, DebugMustBeABoolean) {
    TestServer server(paths(), snippet_options());
    json request = json::parse(chat_body("hi", 4, false));
    request["debug"] = "yes";
    auto res = server.client()->Post("/v1/chat/completions", request.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_NE(res->body.find("debug"), std::string::npos) << res->body;
}

TEST_F(PromptDebugTest, FallbackIsInTheDebugFieldAndTheMetric) {
    ServeOptions options = test_options();
    options.tutor_prompter = std::make_shared<const TutorPrompter>(
        TutorPrompter::fallback(options.system_prompt, Error{"snippet_missing", "x.txt: not found"}));
    TestServer server(paths(), options);
    auto res = server.client()->Post("/v1/chat/completions", body("hi", false, true), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const json prompt = json::parse(res->body)["mimir"]["prompt"];
    EXPECT_EQ(prompt["fallback"], true);
    EXPECT_EQ(prompt["snippets"], json::array());
    EXPECT_EQ(metric_value(server.client()->Get("/metrics")->body, "mimir_prompt_fallback"), 1);

    TestServer normal(paths(), snippet_options());
    EXPECT_EQ(metric_value(normal.client()->Get("/metrics")->body, "mimir_prompt_fallback"), 0);
}

}  // namespace
}  // namespace mimir::serve::test
