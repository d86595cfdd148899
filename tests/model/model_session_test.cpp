// ModelSession: the one way chat, serve and eval open a model (fallback chain, engine, tutor prompt).
#include "model/model_session.h"

#include <gtest/gtest.h>

#include "support/test_models.h"

namespace mimir {
namespace {

const std::string kTutorPrompt = "You are a patient tutor. Guide the student to the answer step by step.";

SessionOptions session_options(bool background) {
    return SessionOptions{.engine = {.n_ctx = 1024, .n_parallel = 2, .n_threads = 1},
                          .system_prompt = kTutorPrompt,
                          .prefill_in_background = background};
}

GenerationRequest first_question() {
    GenerationRequest request;
    request.messages = {{"system", kTutorPrompt}, {"user", "What is a prime number?"}};
    request.sampling.temperature = 0;
    request.sampling.max_tokens = 4;
    return request;
}

TEST(ModelSession, OpensTheWinningTierWithTheTutorPromptComputed) {
    const std::string base = test::tiny_model_path(test::small_spec());
    ModelSession session({test::scratch_dir() + "/missing.gguf", "", base}, session_options(false));
    OpenedModel opened = session.open();
    ASSERT_TRUE(opened.engine) << opened.info.error;
    EXPECT_EQ(opened.info.status, ModelStatus::Loaded);
    EXPECT_EQ(opened.info.tier, Tier::Base);
    EXPECT_EQ(session.counters().fallback_activations, 1u);
    // The prompt was computed at open, so the first student reads only their own turn.
    Result<GenerationResult> reply = opened.engine->generate(first_question());
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_GT(reply->cached_prompt_tokens, 10);
    EXPECT_EQ(opened.engine->stats().requests, 1u);  // the prefill is not a student's request
}

TEST(ModelSession, PrefillsInTheBackgroundWhenAsked) {
    ModelSession session({"", "", test::tiny_model_path(test::small_spec())}, session_options(true));
    OpenedModel opened = session.open();
    ASSERT_TRUE(opened.engine);
    ASSERT_TRUE(opened.prefill.valid());
    Result<int> prefilled = opened.prefill.get();
    ASSERT_TRUE(prefilled.ok()) << prefilled.error().message;
    EXPECT_GT(*prefilled, 10);
    Result<GenerationResult> reply = opened.engine->generate(first_question());
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->cached_prompt_tokens, *prefilled);
}

TEST(ModelSession, NothingToLoadIsAnErrorWithoutEngine) {
    ModelSession session({"", "", test::scratch_dir() + "/missing.gguf"}, session_options(false));
    OpenedModel opened = session.open();
    EXPECT_FALSE(opened.engine);
    EXPECT_EQ(opened.info.status, ModelStatus::Error);
    EXPECT_NE(opened.info.error.find("missing.gguf"), std::string::npos) << opened.info.error;
}

TEST(ModelSession, AnEngineThatCannotBeCreatedIsAnErrorInTheInfo) {
    SessionOptions options = session_options(false);
    options.engine.n_parallel = 0;  // refused by Engine::create
    ModelSession session({"", "", test::tiny_model_path(test::small_spec())}, options);
    OpenedModel opened = session.open();
    EXPECT_FALSE(opened.engine);
    EXPECT_EQ(opened.info.status, ModelStatus::Error);
    EXPECT_EQ(opened.info.error.rfind("engine: ", 0), 0u) << opened.info.error;
}

}  // namespace
}  // namespace mimir
