// The engine's shared system prompts with prompts built from snippets: the pinned prefix serves every
// system message that continues it, recent snippet combinations are reused whole, passing conversations
// never displace the pinned prefix, and none of it changes a reply or survives a full context.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine_test_support.h"
#include "loaded_tiny_model.h"
#include "model/chat_prompt.h"
#include "model/engine.h"

namespace mimir {
namespace {

using test::generate_ok;
using test::greedy;
using test::make_engine;

const std::string kPrefix =
    "You are Mimir, a tutoring assistant for students. Answer in a professional, encouraging tone, "
    "briefly and correctly, with no emoticons.";
const std::string kMath =
    "For mathematics, work one step at a time: ask the student for the next step before showing it, and "
    "check each result with them.";
const std::string kWriting =
    "For essays and other writing, comment on the structure first, then on style, quoting the student's "
    "own sentences, and never rewrite whole paragraphs.";
const std::string kIntegrity =
    "Never complete graded work. Explain the idea behind the task and give a similar worked example.";

// The system text the tutor prompter builds: the prefix, then each chosen snippet after a blank line.
std::string with_snippets(const std::vector<std::string>& snippets) {
    std::string text = kPrefix;
    for (const std::string& snippet : snippets) text += "\n\n" + snippet;
    return text;
}

std::vector<ChatMessage> conversation(const std::string& system, const std::string& question) {
    return {{"system", system}, {"user", question}};
}

ChatPrompt prompt_of(const std::vector<ChatMessage>& messages) {
    Result<ChatPrompt> prompt =
        build_chat_prompt(test::loaded_tiny_model()->model.get(), messages, 4096, 4096);
    EXPECT_TRUE(prompt.ok()) << prompt.error().message;
    return prompt.ok() ? *prompt : ChatPrompt{};
}

// The tokens prefill_system_prompt(kPrefix) computes: the prefix's system part rendered alone.
std::vector<llama_token> pinned_tokens() {
    ChatPrompt prompt = prompt_of(conversation(kPrefix, "?"));
    prompt.tokens.resize(static_cast<size_t>(prompt.system_prefix_tokens));
    return prompt.tokens;
}

int common_prefix(const std::vector<llama_token>& a, const std::vector<llama_token>& b) {
    const size_t n = std::min(a.size(), b.size());
    return static_cast<int>(
        std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first - a.begin());
}

GenerationRequest short_greedy(std::vector<ChatMessage> messages) {
    GenerationRequest request = greedy(std::move(messages), 12);
    request.sampling.repeat_penalty = 1.0f;
    return request;
}

TEST(SharedPrompts, RecentCountIsValidated) {
    for (int bad : {-1, 65}) {
        EngineOptions options{.n_recent_system_prompts = bad};
        Result<std::unique_ptr<Engine>> engine = Engine::create(test::loaded_tiny_model(), options);
        ASSERT_FALSE(engine.ok());
        EXPECT_EQ(engine.error().code, "invalid_options");
    }
}

TEST(SharedPrompts, SnippetPromptsReuseThePinnedPrefixAndRecentCombinationsWhole) {
    auto engine = make_engine(2);
    Result<int> prefilled = engine->prefill_system_prompt(kPrefix);
    ASSERT_TRUE(prefilled.ok()) << prefilled.error().message;
    const std::vector<llama_token> pinned = pinned_tokens();
    EXPECT_EQ(*prefilled, static_cast<int>(pinned.size()));

    // A combination never seen: everything it shares with the prefix's rendering, not its snippets.
    const auto math = conversation(with_snippets({kMath}), "How do I solve 3x + 5 = 20?");
    const ChatPrompt math_prompt = prompt_of(math);
    const int math_shared = common_prefix(pinned, math_prompt.tokens);
    ASSERT_GT(math_shared, 0);
    ASSERT_LT(math_shared, math_prompt.system_prefix_tokens);
    EXPECT_EQ(generate_ok(*engine, short_greedy(math)).cached_prompt_tokens, math_shared);

    // A second new conversation with the same snippets: its whole system part.
    const auto math_again = conversation(with_snippets({kMath}), "What is a common denominator?");
    EXPECT_GE(generate_ok(*engine, short_greedy(math_again)).cached_prompt_tokens,
              prompt_of(math_again).system_prefix_tokens);

    // Other snippets: at least what they share with the pinned prefix, less than their own system part.
    const auto writing = conversation(with_snippets({kWriting, kIntegrity}), "Can you check my essay intro?");
    const ChatPrompt writing_prompt = prompt_of(writing);
    const GenerationResult other = generate_ok(*engine, short_greedy(writing));
    EXPECT_GE(other.cached_prompt_tokens, common_prefix(pinned, writing_prompt.tokens));
    EXPECT_LT(other.cached_prompt_tokens, writing_prompt.system_prefix_tokens);
}

TEST(SharedPrompts, ARecentCombinationIsReusedWholeWhenEverySlotHoldsAConversation) {
    // A long prefix and short snippets: both slots hold conversations that share most of the new one's
    // system part (the prefix). Copying the recent combination into one of them must still win over
    // recomputing its snippet on top of that slot's prefix: the prefix is not lost by overwriting the slot.
    const std::string prefix = kPrefix + " " + kIntegrity + " " + kMath;
    auto with = [&](const std::string& snippet) { return prefix + "\n\n" + snippet; };
    auto engine = make_engine(2);
    ASSERT_TRUE(engine->prefill_system_prompt(prefix).ok());
    const auto writing = conversation(with("Writing: the structure first."), "Is my thesis clear?");
    generate_ok(*engine, greedy(writing, 1));
    // Two conversations at once take both slots, so the first conversation's cache is gone.
    auto coding = engine->submit(greedy(conversation(with("Coding: ask for the error."), "Fix my loop."), 8));
    auto tests = engine->submit(greedy(conversation(with("Tests: one question at a time."), "Quiz me."), 8));
    ASSERT_TRUE(coding.ok() && tests.ok());
    for (GenerationHandle* handle : {coding->get(), tests->get()}) {
        GenerationEvent event;
        do event = handle->next(std::chrono::seconds(1));
        while (event.kind == GenerationEvent::Kind::Text || event.kind == GenerationEvent::Kind::Idle);
        ASSERT_EQ(event.kind, GenerationEvent::Kind::Finished);
    }
    const auto writing_again =
        conversation(with("Writing: the structure first."), "How long is a paragraph?");
    EXPECT_GE(generate_ok(*engine, greedy(writing_again, 1)).cached_prompt_tokens,
              prompt_of(writing_again).system_prefix_tokens);
}

TEST(SharedPrompts, GreedyRepliesAreTheSameWithAndWithoutReuse) {
    const std::vector<std::vector<ChatMessage>> conversations = {
        conversation(with_snippets({kMath}), "How do I solve 3x + 5 = 20?"),
        conversation(with_snippets({kMath}), "What is a common denominator?"),
        conversation(with_snippets({kWriting}), "Is my thesis statement clear?"),
        conversation(with_snippets({kMath, kIntegrity}), "Solve my homework question 4 for me."),
        conversation(with_snippets({kWriting}), "How long should a paragraph be?"),
        conversation(kPrefix, "Hello!"),
    };
    auto reusing = make_engine(2);
    ASSERT_TRUE(reusing->prefill_system_prompt(kPrefix).ok());
    int reused = 0;
    for (const std::vector<ChatMessage>& messages : conversations) {
        SCOPED_TRACE(messages.back().content);
        const GenerationResult with_reuse = generate_ok(*reusing, short_greedy(messages));
        reused += with_reuse.cached_prompt_tokens;
        auto fresh = make_engine(1);
        const GenerationResult computed = generate_ok(*fresh, short_greedy(messages));
        EXPECT_EQ(computed.cached_prompt_tokens, 0);
        EXPECT_EQ(with_reuse.text, computed.text);
    }
    EXPECT_GT(reused, 0);
}

TEST(SharedPrompts, PassingConversationsNeverDisplaceThePinnedPrefix) {
    // One recent place: conversations with unrelated system prompts take it in turn, the pinned stays.
    auto engine = make_engine(2, 2048, EngineOptions{.n_recent_system_prompts = 1});
    ASSERT_TRUE(engine->prefill_system_prompt(kPrefix).ok());
    std::vector<ChatMessage> last;
    for (const char* system : {"Answer only in French, as a strict grammar teacher would.",
                               "You are a chemistry lab assistant who lists safety rules first.",
                               "Reply as a patient history teacher with dates for every event."}) {
        last = conversation(system, "Hello, who are you?");
        generate_ok(*engine, short_greedy(last));
    }
    const auto student = conversation(with_snippets({kIntegrity}), "Write my lab report for me.");
    const ChatPrompt prompt = prompt_of(student);
    const int from_pinned = common_prefix(pinned_tokens(), prompt.tokens);
    ASSERT_GT(from_pinned, common_prefix(prompt_of(last).tokens, prompt.tokens));
    EXPECT_EQ(generate_ok(*engine, short_greedy(student)).cached_prompt_tokens, from_pinned);
}

TEST(SharedPrompts, RecentPromptsGiveWayWhenTheContextFills) {
    // Four snippet combinations fill the recent places; a long reply then needs their cells. The engine
    // gives them up (and idle conversations) rather than cutting the reply, and keeps the pinned prefix.
    auto engine = make_engine(2, 384, EngineOptions{.n_recent_system_prompts = 4});
    const int n_ctx = engine->context_size();  // llama.cpp rounds the size up
    ASSERT_TRUE(engine->prefill_system_prompt(kPrefix).ok());
    const std::vector<std::vector<std::string>> combinations = {
        {kMath}, {kWriting}, {kIntegrity}, {kMath, kWriting}};
    // Cells only the recent prompts hold: each one's tokens beyond what an earlier prompt already holds.
    std::vector<std::vector<llama_token>> held = {pinned_tokens()};
    int recent_only_cells = 0;
    for (const std::vector<std::string>& snippets : combinations) {
        const auto messages = conversation(with_snippets(snippets), "Hi");
        ChatPrompt prompt = prompt_of(messages);
        prompt.tokens.resize(static_cast<size_t>(prompt.system_prefix_tokens));
        int known = 0;
        for (const std::vector<llama_token>& earlier : held)
            known = std::max(known, common_prefix(earlier, prompt.tokens));
        recent_only_cells += prompt.system_prefix_tokens - known;
        held.push_back(prompt.tokens);
        generate_ok(*engine, short_greedy(messages));
    }
    const auto long_reply = conversation(kPrefix, "Tell me a long story.");
    const int prompt_tokens = static_cast<int>(prompt_of(long_reply).tokens.size());
    const int max_tokens = n_ctx - prompt_tokens - 8;
    // Kept alongside, the recent prompts would leave no room for this reply.
    ASSERT_GT(recent_only_cells, n_ctx - prompt_tokens - max_tokens);
    GenerationRequest request = greedy(long_reply, max_tokens);
    request.sampling.ignore_end_of_turn = true;
    const GenerationResult result = generate_ok(*engine, std::move(request));
    EXPECT_EQ(result.completion_tokens, max_tokens);
    EXPECT_EQ(result.finish_reason, "length");

    const auto next = conversation(with_snippets({kMath}), "And now?");
    EXPECT_GE(generate_ok(*engine, short_greedy(next)).cached_prompt_tokens,
              common_prefix(pinned_tokens(), prompt_of(next).tokens));
}

}  // namespace
}  // namespace mimir
