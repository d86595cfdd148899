// The generation engine on the tiny random-weight model: streaming, bad input, cancellation, continuous
// batching, KV prefix reuse. Random weights emit byte tokens freely, which exercises the UTF-8 path.
#include "model/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "loaded_tiny_model.h"
#include "model/chat_prompt.h"
#include "model/utf8_stream.h"

namespace mimir {
namespace {

const std::string kSystem = "You are a patient tutor. Guide the student to the answer step by step.";

std::unique_ptr<Engine> make_engine(int n_parallel = 4, int n_ctx = 2048) {
    EngineOptions options;
    options.n_ctx = n_ctx;
    options.n_parallel = n_parallel;
    options.n_threads = 1;  // tests share 2 cores with other tests: spinning thread pairs would stall
    Result<std::unique_ptr<Engine>> engine = Engine::create(test::loaded_tiny_model(), options);
    EXPECT_TRUE(engine.ok()) << engine.error().message;
    return engine.ok() ? std::move(*engine) : nullptr;
}

GenerationRequest greedy(std::vector<ChatMessage> messages, int max_tokens = 24) {
    GenerationRequest request;
    request.messages = std::move(messages);
    request.sampling.temperature = 0;
    request.sampling.max_tokens = max_tokens;
    return request;
}

GenerationResult generate_ok(Engine& engine, GenerationRequest request) {
    Result<GenerationResult> result = engine.generate(std::move(request));
    EXPECT_TRUE(result.ok()) << result.error().code << ": " << result.error().message;
    return result.ok() ? *result : GenerationResult{};
}

TEST(Engine, WithoutModelIsNoModelError) {
    Result<std::unique_ptr<Engine>> engine = Engine::create(nullptr, EngineOptions{});
    ASSERT_FALSE(engine.ok());
    EXPECT_EQ(engine.error().code, "no_model");
}

TEST(Engine, RejectsBadOptions) {
    std::vector<EngineOptions> bad(4);
    bad[0].n_parallel = 0;
    bad[1].n_ctx = 16;
    bad[2].n_batch = 2;  // fewer than the 4 sequences that each need a place in every batch
    bad[3].n_threads = -1;
    for (const EngineOptions& options : bad) {
        Result<std::unique_ptr<Engine>> engine = Engine::create(test::loaded_tiny_model(), options);
        ASSERT_FALSE(engine.ok());
        EXPECT_EQ(engine.error().code, "invalid_options");
    }
}

TEST(Engine, StreamsValidUtf8ThatAddsUpToTheResult) {
    auto engine = make_engine(2);
    for (uint32_t seed : {1u, 2u, 3u}) {
        GenerationRequest request;
        request.messages = {{"system", kSystem}, {"user", "Explain what a prime number is."}};
        request.sampling.temperature = 1.5f;  // high temperature: byte tokens and broken UTF-8 show up
        request.sampling.top_k = 0;
        request.sampling.top_p = 1.0f;
        request.sampling.seed = seed;
        request.sampling.max_tokens = 64;
        std::string streamed;
        int chunks = 0;
        request.on_text = [&](std::string_view text) {
            EXPECT_TRUE(is_valid_utf8(text));
            EXPECT_FALSE(text.empty());
            streamed += text;
            ++chunks;
            return true;
        };
        GenerationResult result = generate_ok(*engine, std::move(request));
        EXPECT_EQ(streamed, result.text);
        EXPECT_TRUE(is_valid_utf8(result.text));
        EXPECT_GT(result.prompt_tokens, 0);
        EXPECT_LE(result.completion_tokens, 64);
        EXPECT_TRUE(result.finish_reason == "length" || result.finish_reason == "stop")
            << result.finish_reason;
        if (result.finish_reason == "length") {
            EXPECT_EQ(result.completion_tokens, 64);
        }
        EXPECT_GT(result.total_ms, 0);
    }
    EXPECT_EQ(engine->stats().completed, 3u);
    EXPECT_EQ(engine->stats().active, 0);
}

TEST(Engine, SameSeedSameText) {
    auto engine = make_engine(2);
    auto request = [] {
        GenerationRequest r;
        r.messages = {{"user", "Tell me about triangles."}};
        r.sampling.seed = 1234;
        r.sampling.max_tokens = 32;
        return r;
    };
    EXPECT_EQ(generate_ok(*engine, request()).text, generate_ok(*engine, request()).text);
}

TEST(Engine, BadRequestsGetClearErrorsAndTheEngineKeepsServing) {
    auto engine = make_engine(2, 256);
    struct Case {
        std::string name;
        GenerationRequest request;
        std::string code;
    };
    std::vector<Case> cases;
    cases.push_back({"no messages", greedy({}), "invalid_request"});
    cases.push_back({"empty content", greedy({{"user", ""}}), "invalid_request"});
    cases.push_back({"non-UTF-8", greedy({{"user", "caf\xE9"}}), "invalid_request"});
    cases.push_back({"unknown role", greedy({{"wizard", "hi"}}), "invalid_request"});
    cases.push_back({"max_tokens 0", greedy({{"user", "hi"}}, 0), "invalid_request"});
    cases.push_back({"max_tokens negative", greedy({{"user", "hi"}}, -5), "invalid_request"});
    GenerationRequest hot = greedy({{"user", "hi"}});
    hot.sampling.temperature = 99;
    cases.push_back({"temperature", std::move(hot), "invalid_request"});
    GenerationRequest empty_stop = greedy({{"user", "hi"}});
    empty_stop.sampling.stop = {""};
    cases.push_back({"empty stop string", std::move(empty_stop), "invalid_request"});
    std::string long_text;
    for (int i = 0; i < 300; ++i) long_text += "item" + std::to_string(i) + " ";
    cases.push_back({"prompt longer than context", greedy({{"system", kSystem}, {"user", long_text}}),
                     "context_exceeded"});
    GenerationRequest cancelled = greedy({{"user", "hi"}});
    cancelled.cancelled = std::make_shared<std::atomic<bool>>(true);
    cases.push_back({"cancelled before start", std::move(cancelled), "cancelled"});

    for (Case& c : cases) {
        Result<GenerationResult> result = engine->generate(std::move(c.request));
        ASSERT_FALSE(result.ok()) << c.name;
        EXPECT_EQ(result.error().code, c.code) << c.name;
        EXPECT_FALSE(result.error().message.empty()) << c.name;
    }
    EXPECT_EQ(engine->stats().failed, cases.size());
    GenerationResult after = generate_ok(*engine, greedy({{"user", "still there?"}}, 8));
    EXPECT_GT(after.completion_tokens + (after.finish_reason == "stop" ? 1 : 0), 0);
}

TEST(Engine, HugeMaxTokensIsClampedToTheContext) {
    auto engine = make_engine(1, 256);
    GenerationRequest request = greedy({{"user", "Count to a million."}}, 1000000);
    request.sampling.ignore_end_of_turn = true;  // so only the context can end it
    GenerationResult result = generate_ok(*engine, std::move(request));
    EXPECT_EQ(result.finish_reason, "length");
    EXPECT_EQ(result.prompt_tokens + result.completion_tokens, engine->context_size());
}

TEST(Engine, IgnoringEndOfTurnRunsToMaxTokensWithEverySampler) {
    auto engine = make_engine(2, 1024);
    for (float temperature : {0.0f, 1.5f}) {
        for (float penalty : {1.0f, 1.2f}) {
            GenerationRequest request = greedy({{"user", "Go on."}}, 64);
            request.sampling.temperature = temperature;
            request.sampling.repeat_penalty = penalty;
            request.sampling.top_k = 0;
            request.sampling.seed = 3;
            request.sampling.ignore_end_of_turn = true;
            GenerationResult result = generate_ok(*engine, std::move(request));
            EXPECT_EQ(result.finish_reason, "length") << temperature << " " << penalty;
            EXPECT_EQ(result.completion_tokens, 64);
        }
    }
}

TEST(Engine, LongConversationDropsOldestTurns) {
    auto engine = make_engine(1, 512);
    std::vector<ChatMessage> messages{{"system", kSystem}};
    for (int i = 0; i < 30; ++i) {
        messages.push_back(
            {"user", "Question number " + std::to_string(i) + " about long division and remainders."});
        messages.push_back({"assistant", "Answer number " + std::to_string(i) +
                                             ": divide, multiply, subtract, bring down."});
    }
    messages.push_back({"user", "And the last one?"});
    GenerationResult result = generate_ok(*engine, greedy(messages, 16));
    EXPECT_GT(result.dropped_messages, 0);
    EXPECT_LE(result.prompt_tokens + result.completion_tokens, engine->context_size());
}

TEST(Engine, CancellingFromTheCallbackFreesTheSlot) {
    auto engine = make_engine(1);
    GenerationRequest request = greedy({{"user", "Write a long essay."}}, 200);
    request.sampling.repeat_penalty = 1.3f;
    int calls = 0;
    request.on_text = [&](std::string_view) { return ++calls < 3; };
    GenerationResult result = generate_ok(*engine, std::move(request));
    if (calls >= 3) {  // the model did not stop on its own before the third piece
        EXPECT_EQ(result.finish_reason, "cancelled");
        EXPECT_EQ(calls, 3);
        EXPECT_EQ(engine->stats().cancelled, 1u);
    }
    // The only slot is free again: the next request runs to completion.
    GenerationResult next = generate_ok(*engine, greedy({{"user", "Next student."}}, 8));
    EXPECT_NE(next.finish_reason, "cancelled");
    EXPECT_EQ(engine->stats().active, 0);
}

TEST(Engine, CancellingWithTheFlagFromAnotherThread) {
    auto engine = make_engine(1);
    GenerationRequest request = greedy({{"user", "Write a long essay."}}, 2000);
    request.sampling.temperature = 1.0f;
    request.sampling.top_k = 0;
    request.sampling.seed = 7;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    request.cancelled = cancelled;
    std::atomic<int> pieces{0};
    request.on_text = [&](std::string_view) {
        ++pieces;
        return true;
    };
    std::thread canceller([&] {
        while (pieces.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        cancelled->store(true);
    });
    Result<GenerationResult> result = engine->generate(std::move(request));
    canceller.join();
    ASSERT_TRUE(result.ok());
    if (result->finish_reason != "stop") {
        EXPECT_EQ(result->finish_reason, "cancelled");
    }
    EXPECT_LT(result->completion_tokens, 2000);
    EXPECT_EQ(generate_ok(*engine, greedy({{"user", "Next."}}, 4)).finish_reason.empty(), false);
}

TEST(Engine, StopStringEndsTheReplyWithoutLeakingIt) {
    const std::vector<ChatMessage> messages{{"user", "Describe the water cycle in detail."}};
    std::vector<std::string> chunks;
    GenerationRequest first = greedy(messages, 48);
    first.sampling.repeat_penalty = 1.3f;
    first.on_text = [&](std::string_view text) {
        chunks.emplace_back(text);
        return true;
    };
    GenerationResult plain = generate_ok(*make_engine(1), std::move(first));
    ASSERT_GE(chunks.size(), 4u) << "the model stopped too early to pick a stop string";
    const std::string stop = chunks[3];
    const std::string expected = plain.text.substr(0, plain.text.find(stop));

    GenerationRequest second = greedy(messages, 48);
    second.sampling.repeat_penalty = 1.3f;
    second.sampling.stop = {stop};
    std::string streamed;
    second.on_text = [&](std::string_view text) {
        streamed += text;
        return true;
    };
    GenerationResult stopped = generate_ok(*make_engine(1), std::move(second));
    EXPECT_EQ(stopped.finish_reason, "stop");
    EXPECT_EQ(stopped.text, expected);
    EXPECT_EQ(streamed, expected);
}

// Continuous batching must not change what a sequence generates: greedy replies from four concurrent
// clients on a 4-slot engine equal the replies of a 1-slot engine serving them one at a time. Batches of
// different shapes sum in a different order, and on random weights near-tied logits flip after a few
// dozen tokens from that float noise alone, so the replies compared are short.
TEST(Engine, ConcurrentGreedyRepliesMatchSequentialOnes) {
    const std::vector<std::string> questions = {"What is a fraction?", "How do magnets work?",
                                                "Why is the sky blue?", "What is photosynthesis?"};
    auto request = [&](size_t i) {
        GenerationRequest r = greedy({{"system", kSystem}, {"user", questions[i]}}, 12);
        r.sampling.repeat_penalty = 1.0f;
        return r;
    };
    std::vector<std::string> sequential;
    {
        auto single = make_engine(1);
        for (size_t i = 0; i < questions.size(); ++i)
            sequential.push_back(generate_ok(*single, request(i)).text);
    }
    auto engine = make_engine(4);
    std::vector<std::string> concurrent(questions.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < questions.size(); ++i) {
        clients.emplace_back([&, i] { concurrent[i] = generate_ok(*engine, request(i)).text; });
    }
    for (std::thread& client : clients) client.join();
    EXPECT_EQ(concurrent, sequential);
    EXPECT_EQ(engine->stats().completed, questions.size());
}

TEST(Engine, MoreClientsThanSlotsQueueAndAllFinish) {
    auto engine = make_engine(2);
    std::vector<std::thread> clients;
    std::atomic<int> finished{0};
    for (int i = 0; i < 6; ++i) {
        clients.emplace_back([&, i] {
            GenerationRequest r;
            r.messages = {{"user", "Student " + std::to_string(i) + " asks about verbs."}};
            r.sampling.seed = static_cast<uint32_t>(i);
            r.sampling.max_tokens = 16;
            if (engine->generate(std::move(r)).ok()) ++finished;
        });
    }
    for (std::thread& client : clients) client.join();
    EXPECT_EQ(finished.load(), 6);
    EXPECT_EQ(engine->stats().completed, 6u);
}

TEST(Engine, FullQueueAnswersBusy) {
    EngineOptions options;
    options.n_ctx = 512;
    options.n_parallel = 1;
    options.max_queue = 0;
    options.n_threads = 1;  // tests share 2 cores with other tests: spinning thread pairs would stall
    Result<std::unique_ptr<Engine>> created = Engine::create(test::loaded_tiny_model(), options);
    ASSERT_TRUE(created.ok());
    Engine& engine = **created;
    std::promise<void> first_is_streaming;
    std::promise<void> second_was_answered;
    std::shared_future<void> answered = second_was_answered.get_future().share();
    bool signalled = false;
    GenerationRequest first = greedy({{"user", "Take the only slot."}}, 8);
    first.sampling.ignore_end_of_turn = true;
    first.on_text = [&](std::string_view) {
        if (!signalled) {
            signalled = true;
            first_is_streaming.set_value();
            answered.wait();  // hold the slot until the second request has its answer
        }
        return true;
    };
    std::thread holder([&] { EXPECT_TRUE(engine.generate(std::move(first)).ok()); });
    first_is_streaming.get_future().wait();
    Result<GenerationResult> second = engine.generate(greedy({{"user", "Me too."}}, 4));
    second_was_answered.set_value();
    holder.join();
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, "busy");
    EXPECT_TRUE(engine.generate(greedy({{"user", "Now?"}}, 4)).ok());
}

TEST(Engine, CancelledRequestLeavesTheQueueWhileTheSlotIsStillBusy) {
    // One slot, held by a long reply; a queued request whose client leaves must be answered "cancelled" at
    // once, not when the slot frees.
    auto engine = make_engine(1, 2048);
    std::atomic<bool> release{false};
    std::atomic<bool> first_finished{false};
    GenerationRequest first = greedy({{"user", "Take the only slot."}}, 1500);
    first.sampling.ignore_end_of_turn = true;
    std::atomic<bool> streaming{false};
    first.on_text = [&](std::string_view) {
        streaming = true;
        return !release.load();
    };
    std::thread holder([&] {
        EXPECT_TRUE(engine->generate(std::move(first)).ok());
        first_finished = true;
    });
    for (int i = 0; i < 5000 && !streaming.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto leaving = std::make_shared<std::atomic<bool>>(false);
    GenerationRequest second = greedy({{"user", "Me too."}}, 4);
    second.cancelled = leaving;
    std::future<Result<GenerationResult>> answer =
        std::async(std::launch::async, [&] { return engine->generate(std::move(second)); });
    for (int i = 0; i < 2000 && engine->stats().queued == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(engine->stats().queued, 1);
    leaving->store(true);
    const bool answered_in_time = answer.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    const bool slot_was_busy = !first_finished.load();
    release = true;  // free the slot before any assertion can return, so the threads always finish
    holder.join();
    EXPECT_TRUE(answered_in_time);
    EXPECT_TRUE(slot_was_busy);  // the queued request was answered while the slot was still taken
    Result<GenerationResult> result = answer.get();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, "cancelled");
    EXPECT_EQ(engine->stats().queued, 0);
    EXPECT_TRUE(engine->generate(greedy({{"user", "Next?"}}, 4)).ok());
}

TEST(Engine, SequencesOutgrowingTheSharedContextEndCleanly) {
    // Two conversations that each fit the 256-token context but not together: the engine ends one of them
    // ("length" or "context_exceeded") instead of failing both, and keeps serving.
    auto engine = make_engine(2, 256);
    std::vector<Result<GenerationResult>> results(2, Result<GenerationResult>::failure("unset", ""));
    std::vector<std::thread> clients;
    for (size_t i = 0; i < 2; ++i) {
        clients.emplace_back([&, i] {
            GenerationRequest request =
                greedy({{"user", "Conversation " + std::to_string(i) + " goes on and on."}}, 200);
            request.sampling.ignore_end_of_turn = true;
            results[i] = engine->generate(std::move(request));
        });
    }
    for (std::thread& client : clients) client.join();
    int full_replies = 0;
    for (const Result<GenerationResult>& result : results) {
        if (result.ok()) {
            EXPECT_EQ(result->finish_reason, "length");
            EXPECT_LE(result->prompt_tokens + result->completion_tokens, engine->context_size());
            full_replies += result->completion_tokens == 200 ? 1 : 0;
        } else {
            EXPECT_EQ(result.error().code, "context_exceeded");
        }
    }
    EXPECT_LT(full_replies, 2);  // 2 x (14 + 200) tokens cannot have been in a 256-token context at once
    EXPECT_TRUE(engine->generate(greedy({{"user", "Anyone there?"}}, 8)).ok());
}

TEST(Engine, NextTurnReusesTheConversationsCache) {
    auto engine = make_engine(2);
    std::vector<ChatMessage> messages{{"system", kSystem}, {"user", "What is 7 times 8?"}};
    GenerationResult first = generate_ok(*engine, greedy(messages, 12));
    ASSERT_FALSE(first.text.empty());
    messages.push_back({"assistant", first.text});
    messages.push_back({"user", "And 7 times 9?"});
    GenerationResult second = generate_ok(*engine, greedy(messages, 12));
    // Everything up to the end of the first prompt was in the slot's KV already.
    EXPECT_GE(second.cached_prompt_tokens, first.prompt_tokens - 1);
    EXPECT_LT(second.cached_prompt_tokens, second.prompt_tokens);
}

TEST(Engine, NewConversationReusesTheSharedSystemPrompt) {
    auto engine = make_engine(2);
    auto model = test::loaded_tiny_model();
    const std::vector<ChatMessage> student_a{{"system", kSystem}, {"user", "What is a noun?"}};
    const std::vector<ChatMessage> student_b{{"system", kSystem}, {"user", "How do volcanoes erupt?"}};
    Result<ChatPrompt> prompt_b = build_chat_prompt(model->model.get(), student_b, 4096, 4096);
    ASSERT_TRUE(prompt_b.ok());
    ASSERT_GT(prompt_b->system_prefix_tokens, 0);

    GenerationResult a = generate_ok(*engine, greedy(student_a, 8));
    EXPECT_EQ(a.cached_prompt_tokens, 0);
    GenerationResult b = generate_ok(*engine, greedy(student_b, 8));
    EXPECT_EQ(b.cached_prompt_tokens, prompt_b->system_prefix_tokens);
    // Student A's conversation kept its own slot: its next turn still finds its whole first prompt.
    std::vector<ChatMessage> a_next = student_a;
    a_next.push_back({"assistant", a.text.empty() ? "..." : a.text});
    a_next.push_back({"user", "Give an example."});
    GenerationResult a2 = generate_ok(*engine, greedy(a_next, 8));
    EXPECT_GE(a2.cached_prompt_tokens, a.prompt_tokens - 1);
    EXPECT_EQ(engine->stats().cached_prompt_tokens,
              static_cast<uint64_t>(b.cached_prompt_tokens + a2.cached_prompt_tokens));
}

TEST(Engine, PrefilledSystemPromptServesTheFirstConversation) {
    auto model = test::loaded_tiny_model();
    const std::vector<ChatMessage> student{{"system", kSystem}, {"user", "What is a noun?"}};
    Result<ChatPrompt> prompt = build_chat_prompt(model->model.get(), student, 4096, 4096);
    ASSERT_TRUE(prompt.ok());
    auto plain = make_engine(2);
    GenerationResult computed = generate_ok(*plain, greedy(student, 8));
    EXPECT_EQ(computed.cached_prompt_tokens, 0);

    // With several slots the prompt goes to the shared sequence; with one, the slot's own cache keeps it.
    for (int n_parallel : {1, 2}) {
        SCOPED_TRACE("n_parallel=" + std::to_string(n_parallel));
        auto engine = make_engine(n_parallel);
        Result<int> prefilled = engine->prefill_system_prompt(kSystem);
        ASSERT_TRUE(prefilled.ok()) << prefilled.error().message;
        EXPECT_EQ(*prefilled, prompt->system_prefix_tokens);
        EXPECT_EQ(engine->stats().requests, 0u);  // not a student's request

        GenerationResult first = generate_ok(*engine, greedy(student, 8));
        EXPECT_EQ(first.cached_prompt_tokens, *prefilled);
        // The reused KV is the same as computing the whole prompt: the same greedy reply.
        EXPECT_EQ(first.text, computed.text);
    }
}

TEST(Engine, PrefillRejectsAnUnusableSystemPrompt) {
    auto engine = make_engine(1);
    for (const std::string& bad : {std::string(), std::string("\xff\xfe")}) {
        Result<int> prefilled = engine->prefill_system_prompt(bad);
        ASSERT_FALSE(prefilled.ok());
        EXPECT_EQ(prefilled.error().code, "invalid_request");
    }
    // And the engine still serves.
    EXPECT_FALSE(generate_ok(*engine, greedy({{"user", "Hello"}}, 4)).finish_reason.empty());
}

}  // namespace
}  // namespace mimir
