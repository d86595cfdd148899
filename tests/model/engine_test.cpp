// The generation engine on the tiny random-weight model: streaming, bad input, cancellation, continuous
// batching, KV prefix reuse. Random weights emit byte tokens freely, which exercises the UTF-8 path.
#include "model/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <future>
#include <thread>

#include "engine_test_support.h"
#include "loaded_tiny_model.h"
#include "model/chat_prompt.h"
#include "model/utf8_stream.h"

namespace mimir {
namespace {

const std::string kSystem = "You are a patient tutor. Guide the student to the answer step by step.";

using test::greedy;
using test::make_engine;

// Reads a generation to its end through its handle, giving each Text event to `on_text`, and cancels it
// when on_text returns false (it is not called again after that).
Result<GenerationResult> read_to_end(Engine& engine, GenerationRequest request,
                                     const std::function<bool(const GenerationEvent&)>& on_text) {
    Result<std::unique_ptr<GenerationHandle>> handle = engine.submit(std::move(request));
    if (!handle) return handle.error();
    bool reading = true;
    for (;;) {
        GenerationEvent event = (*handle)->next(std::chrono::seconds(1));
        switch (event.kind) {
            case GenerationEvent::Kind::Text:
                if (reading && !on_text(event)) {
                    reading = false;
                    (*handle)->cancel();
                }
                break;
            case GenerationEvent::Kind::Finished:
                return std::move(event.result);
            case GenerationEvent::Kind::Failed:
                return std::move(event.error);
            case GenerationEvent::Kind::Idle:
                break;
        }
    }
}

// The next event that is not Idle.
GenerationEvent next_news(GenerationHandle& handle) {
    for (;;) {
        GenerationEvent event = handle.next(std::chrono::seconds(1));
        if (event.kind != GenerationEvent::Kind::Idle) return event;
    }
}

using test::generate_ok;

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
        Result<GenerationResult> read =
            read_to_end(*engine, std::move(request), [&](const GenerationEvent& event) {
                EXPECT_TRUE(is_valid_utf8(event.text));
                EXPECT_FALSE(event.text.empty());
                EXPECT_TRUE(event.logprobs.empty());  // not asked for
                streamed += event.text;
                return true;
            });
        ASSERT_TRUE(read.ok()) << read.error().message;
        const GenerationResult& result = *read;
        EXPECT_TRUE(result.logprobs.empty());
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
    GenerationRequest top_alone = greedy({{"user", "hi"}});
    top_alone.sampling.top_logprobs = 3;  // without logprobs
    cases.push_back({"top_logprobs without logprobs", std::move(top_alone), "invalid_request"});
    GenerationRequest too_many = greedy({{"user", "hi"}});
    too_many.sampling.logprobs = true;
    too_many.sampling.top_logprobs = SamplingLimits::kMaxTopLogprobs + 1;
    cases.push_back({"top_logprobs too many", std::move(too_many), "invalid_request"});

    for (Case& c : cases) {
        // Refused by submit itself, before anything is queued.
        Result<std::unique_ptr<GenerationHandle>> result = engine->submit(std::move(c.request));
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

TEST(Engine, CancellingWhileReadingFreesTheSlot) {
    auto engine = make_engine(1);
    GenerationRequest request = greedy({{"user", "Write a long essay."}}, 2000);
    request.sampling.ignore_end_of_turn = true;
    int calls = 0;
    Result<GenerationResult> result =
        read_to_end(*engine, std::move(request), [&](const GenerationEvent&) { return ++calls < 2; });
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->finish_reason, "cancelled");
    EXPECT_LT(result->completion_tokens, 2000);
    EXPECT_EQ(engine->stats().cancelled, 1u);
    // The only slot is free again: the next request runs to completion.
    GenerationResult next = generate_ok(*engine, greedy({{"user", "Next student."}}, 8));
    EXPECT_NE(next.finish_reason, "cancelled");
    EXPECT_EQ(engine->stats().active, 0);
}

TEST(Engine, CancellingFromAnotherThread) {
    auto engine = make_engine(1);
    GenerationRequest request = greedy({{"user", "Write a long essay."}}, 2000);
    request.sampling.temperature = 1.0f;
    request.sampling.top_k = 0;
    request.sampling.seed = 7;
    request.sampling.ignore_end_of_turn = true;
    Result<std::unique_ptr<GenerationHandle>> handle = engine->submit(std::move(request));
    ASSERT_TRUE(handle.ok());
    EXPECT_EQ(next_news(**handle).kind, GenerationEvent::Kind::Text);
    std::thread canceller([&] { (*handle)->cancel(); });
    canceller.join();
    GenerationEvent end = next_news(**handle);
    while (end.kind == GenerationEvent::Kind::Text) end = next_news(**handle);
    ASSERT_EQ(end.kind, GenerationEvent::Kind::Finished);
    EXPECT_EQ(end.result.finish_reason, "cancelled");
    EXPECT_LT(end.result.completion_tokens, 2000);
    EXPECT_EQ(generate_ok(*engine, greedy({{"user", "Next."}}, 4)).finish_reason.empty(), false);
}

TEST(Engine, DestroyingTheHandleCancelsAndFreesTheSlot) {
    auto engine = make_engine(1, 2048);
    for (int i = 0; i < 3; ++i) {
        GenerationRequest request = greedy({{"user", "Talk forever."}}, 2000);
        request.sampling.ignore_end_of_turn = true;
        Result<std::unique_ptr<GenerationHandle>> handle = engine->submit(std::move(request));
        ASSERT_TRUE(handle.ok());
        if (i > 0) {
            EXPECT_EQ(next_news(**handle).kind, GenerationEvent::Kind::Text);
        }
    }  // each handle is dropped while its generation runs (or waits)
    GenerationResult next = generate_ok(*engine, greedy({{"user", "Next student."}}, 8));
    EXPECT_NE(next.finish_reason, "cancelled");
    EXPECT_EQ(engine->stats().cancelled, 3u);
    EXPECT_EQ(engine->stats().active, 0);
}

TEST(Engine, EventsAfterTheEndAreIdle) {
    auto engine = make_engine(1);
    Result<std::unique_ptr<GenerationHandle>> handle = engine->submit(greedy({{"user", "Hi."}}, 4));
    ASSERT_TRUE(handle.ok());
    GenerationEvent event = next_news(**handle);
    while (event.kind == GenerationEvent::Kind::Text) event = next_news(**handle);
    EXPECT_EQ(event.kind, GenerationEvent::Kind::Finished);
    EXPECT_EQ((*handle)->next(std::chrono::milliseconds(1)).kind, GenerationEvent::Kind::Idle);
}

// logprobs: each generated token with its log-probability under the model and the likeliest alternatives.
TEST(Engine, LogprobsDescribeEveryGeneratedToken) {
    auto engine = make_engine(1);
    GenerationRequest request = greedy({{"user", "Explain what a prime number is."}}, 32);
    request.sampling.repeat_penalty = 1.0f;  // plain greedy: the sampled token is the likeliest
    request.sampling.ignore_end_of_turn = true;
    request.sampling.logprobs = true;
    request.sampling.top_logprobs = 5;
    std::vector<TokenLogprob> streamed;
    Result<GenerationResult> result =
        read_to_end(*engine, std::move(request), [&](const GenerationEvent& event) {
            streamed.insert(streamed.end(), event.logprobs.begin(), event.logprobs.end());
            return true;
        });
    ASSERT_TRUE(result.ok()) << result.error().message;
    ASSERT_EQ(result->logprobs.size(), static_cast<size_t>(result->completion_tokens));
    ASSERT_EQ(streamed.size(), result->logprobs.size());
    std::string bytes;
    Utf8Stream utf8;
    for (size_t i = 0; i < result->logprobs.size(); ++i) {
        const TokenLogprob& token = result->logprobs[i];
        EXPECT_EQ(streamed[i].sampled.token, token.sampled.token);
        EXPECT_LE(token.sampled.logprob, 0.0f);
        ASSERT_EQ(token.top.size(), 5u);
        for (size_t k = 1; k < token.top.size(); ++k)
            EXPECT_GE(token.top[k - 1].logprob, token.top[k].logprob);
        double total = 0;
        for (const TokenProbability& alternative : token.top) total += std::exp(alternative.logprob);
        EXPECT_LE(total, 1.0 + 1e-4);
        EXPECT_EQ(token.top[0].token, token.sampled.token);  // greedy takes the likeliest
        EXPECT_FLOAT_EQ(token.top[0].logprob, token.sampled.logprob);
        bytes += utf8.push(token.sampled.token);
    }
    bytes += utf8.finish();
    EXPECT_EQ(bytes, result->text);  // the tokens' bytes are the reply
}

TEST(Engine, StopStringEndsTheReplyWithoutLeakingIt) {
    const std::vector<ChatMessage> messages{{"user", "Describe the water cycle in detail."}};
    GenerationRequest first = greedy(messages, 48);
    first.sampling.repeat_penalty = 1.3f;
    first.sampling.logprobs = true;  // for the text of each token
    GenerationResult plain = generate_ok(*make_engine(1), std::move(first));
    std::string stop;
    for (size_t i = 3; i < plain.logprobs.size() && stop.empty(); ++i) {
        const std::string& piece = plain.logprobs[i].sampled.token;
        if (!piece.empty() && is_valid_utf8(piece) && plain.text.find(piece) != std::string::npos)
            stop = piece;
    }
    ASSERT_FALSE(stop.empty()) << "the model stopped too early to pick a stop string";
    const std::string expected = plain.text.substr(0, plain.text.find(stop));

    GenerationRequest second = greedy(messages, 48);
    second.sampling.repeat_penalty = 1.3f;
    second.sampling.stop = {stop};
    std::string streamed;
    Result<GenerationResult> read =
        read_to_end(*make_engine(1), std::move(second), [&](const GenerationEvent& event) {
            streamed += event.text;
            return true;
        });
    ASSERT_TRUE(read.ok()) << read.error().message;
    const GenerationResult& stopped = *read;
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
    options.n_ctx = 2048;
    options.n_parallel = 1;
    options.max_queue = 0;
    options.n_threads = 1;  // tests share 2 cores with other tests: spinning thread pairs would stall
    Result<std::unique_ptr<Engine>> created = Engine::create(test::loaded_tiny_model(), options);
    ASSERT_TRUE(created.ok());
    Engine& engine = **created;
    // The first request takes the only slot (or waits for it); with no queue, a second one is refused by
    // submit itself.
    GenerationRequest first = greedy({{"user", "Take the only slot."}}, 2000);
    first.sampling.ignore_end_of_turn = true;
    Result<std::unique_ptr<GenerationHandle>> holder = engine.submit(std::move(first));
    ASSERT_TRUE(holder.ok());
    Result<std::unique_ptr<GenerationHandle>> second = engine.submit(greedy({{"user", "Me too."}}, 4));
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, "busy");
    (*holder)->cancel();
    GenerationEvent end = next_news(**holder);
    while (end.kind == GenerationEvent::Kind::Text) end = next_news(**holder);
    // Cancelled in its slot, or while still queued; either way the slot is free again.
    EXPECT_EQ(end.kind == GenerationEvent::Kind::Finished ? end.result.finish_reason : end.error.code,
              "cancelled");
    EXPECT_TRUE(engine.generate(greedy({{"user", "Now?"}}, 4)).ok());
}

TEST(Engine, CancelledRequestLeavesTheQueueWhileTheSlotIsStillBusy) {
    // One slot, held by a long reply; a queued request whose client leaves must be answered "cancelled" at
    // once, not when the slot frees.
    auto engine = make_engine(1, 2048);
    GenerationRequest first = greedy({{"user", "Take the only slot."}}, 2000);
    first.sampling.ignore_end_of_turn = true;
    Result<std::unique_ptr<GenerationHandle>> holder = engine->submit(std::move(first));
    ASSERT_TRUE(holder.ok());
    ASSERT_EQ(next_news(**holder).kind, GenerationEvent::Kind::Text);  // it has the slot
    Result<std::unique_ptr<GenerationHandle>> second = engine->submit(greedy({{"user", "Me too."}}, 4));
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(engine->stats().queued, 1);
    (*second)->cancel();
    const GenerationEvent answer = next_news(**second);
    const bool slot_was_busy = engine->stats().completed == 0 && engine->stats().cancelled == 1;
    holder->reset();  // frees the slot
    ASSERT_EQ(answer.kind, GenerationEvent::Kind::Failed);
    EXPECT_EQ(answer.error.code, "cancelled");
    EXPECT_TRUE(slot_was_busy);  // the queued request was answered while the slot was still taken
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
