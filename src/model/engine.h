// The generation engine: one llama.cpp context serving many conversations at once by continuous
// batching. Each request has its own sampler; its caller pulls the text from a GenerationHandle as it is
// produced and can cancel it mid-stream. KV cache of a conversation's unchanged prefix is reused between
// turns, and system prompts are computed once and copied into new sequences: the pinned tutor prefix and
// the most recent full system prompts (the prefix followed by snippets chosen per conversation).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/model_manager.h"
#include "model/sampling_limits.h"
#include "support/result.h"

namespace mimir {

struct ChatMessage {
    std::string role;     // "system", "user" or "assistant"
    std::string content;  // valid UTF-8, not empty
};

// Per-request sampling. Validated by Engine::submit against SamplingLimits (model/sampling_limits.h).
struct SamplingParams {
    float temperature = 0.7f;     // 0 = greedy
    float top_p = 0.95f;          // (0, 1]
    int top_k = 40;               // 0 = off
    float repeat_penalty = 1.1f;  // 1 = off
    int repeat_last_n = 64;
    uint32_t seed = 0xFFFFFFFF;       // LLAMA_DEFAULT_SEED = random
    int max_tokens = 512;             // [1, context size]
    std::vector<std::string> stop;    // extra stop strings; the model's end-of-turn always stops
    bool ignore_end_of_turn = false;  // for benchmarks: never sample end-of-generation tokens
    // Report each generated token's log-probability, and that many of the likeliest alternatives with
    // theirs. Costs a pass over the vocabulary per token, so only when asked. top_logprobs needs logprobs.
    bool logprobs = false;
    int top_logprobs = 0;
};

struct GenerationRequest {
    std::vector<ChatMessage> messages;
    SamplingParams sampling;
};

// A token and its log-probability under the model: the log-softmax of the raw logits, before temperature,
// top-k, top-p or penalties. `token` holds the token's bytes, which may be part of a UTF-8 character.
struct TokenProbability {
    std::string token;
    float logprob = 0;
};

// One generated token (when SamplingParams::logprobs): its own probability and the likeliest alternatives,
// most likely first (top_logprobs of them; the sampled token is among them when likely enough).
struct TokenLogprob {
    TokenProbability sampled;
    std::vector<TokenProbability> top;
};

struct GenerationResult {
    std::string text;
    std::string finish_reason;  // "stop" (end of turn or stop string), "length" (max_tokens or the
                                // context ran out), "cancelled" (mid-stream; `text` is what was sent)
    // With SamplingParams::logprobs: every generated token in order, up to the one that completed a stop
    // string (the end-of-turn token is not listed); empty otherwise.
    std::vector<TokenLogprob> logprobs;
    int prompt_tokens = 0;
    int completion_tokens = 0;
    int cached_prompt_tokens = 0;  // prompt tokens whose KV was reused rather than computed
    int dropped_messages = 0;      // oldest turns removed to fit the context
    double time_to_first_token_ms = 0;
    double total_ms = 0;
};

// What GenerationHandle::next returns.
struct GenerationEvent {
    enum class Kind { Text, Finished, Failed, Idle };
    Kind kind = Kind::Idle;
    std::string text;                    // Text: valid UTF-8 produced since the last event (empty when
                                         // only logprobs are new, e.g. the tokens of a stop string)
    std::vector<TokenLogprob> logprobs;  // Text: the tokens produced since the last event, when requested
    GenerationResult result;             // Finished
    Error error;                         // Failed
};

// One submitted generation, read by its caller: next() pulls what the decode thread has produced. The
// decode thread never waits for the reader and never touches the handle; they share a small state, so
// the handle can be destroyed at any time (that cancels the generation and frees its slot). The handle
// does not keep the engine alive: if the engine goes first, next() answers "shutting_down".
// Text is handed out at once when it is the first in a while, and otherwise at most every kTextInterval: a
// fast model's tokens leave in fewer, larger pieces, so a streaming reader does not wake (and take a core
// from the engine's compute threads) for every token. A reader still sees 50 updates a second; a
// Phi-3-mini token (~170 ms on a CPU) is never held back.
class GenerationHandle {
  public:
    static constexpr std::chrono::milliseconds kTextInterval{20};

    struct State;  // shared with the decode thread (engine_impl.h)
    explicit GenerationHandle(std::shared_ptr<State> state);
    ~GenerationHandle();
    GenerationHandle(const GenerationHandle&) = delete;
    GenerationHandle& operator=(const GenerationHandle&) = delete;

    // Waits up to `timeout` for new text or the end: Text (everything since the last call), then once
    // Finished (the whole result) or Failed, and Idle when nothing happened in that time or after the end.
    // Failed codes: "cancelled" (cancelled while queued), "context_exceeded" (the shared context filled
    // up with other conversations before this prompt was computed), "decode_failed", "shutting_down".
    GenerationEvent next(std::chrono::milliseconds timeout);

    // Cancels from any thread; the generation ends with finish_reason "cancelled" (or Failed "cancelled"
    // when it had not started).
    void cancel();

  private:
    std::shared_ptr<State> state_;
};

struct EngineOptions {
    int n_ctx = 4096;    // total context, shared by all sequences (unified KV cache)
    int n_parallel = 4;  // sequences decoded together
    int n_batch = 512;
    int n_threads = 0;   // 0 = hardware concurrency
    int max_queue = 64;  // requests waiting beyond the running ones; more get "busy"
    // Full system prompts of recent conversations kept in sequences of their own besides the pinned prefix
    // (least recently used replaced first), so that a new conversation whose system prompt (its snippet
    // combination) was seen recently computes only its own turns. Their KV holds context cells the slots'
    // copies no longer hold, and is given up first when the context fills. Unused with one slot (its own
    // cache keeps the last prompt). [0, 64]. More than data/prompts' single snippets: students cycling
    // through one more combination than are kept would miss every time (least recently used).
    int n_recent_system_prompts = 16;
};

struct EngineStats {
    uint64_t requests = 0, completed = 0, cancelled = 0, failed = 0;
    uint64_t prompt_tokens = 0, generated_tokens = 0, cached_prompt_tokens = 0;
    int active = 0, queued = 0;
};

class Engine {
  public:
    // Creates a context on `model` (applying its adapter) and starts the decode thread.
    // Errors: "no_model" (null model), "invalid_options", "context_failed" (llama.cpp could not allocate),
    // "adapter_failed".
    static Result<std::unique_ptr<Engine>> create(std::shared_ptr<const LoadedModel> model,
                                                  EngineOptions options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Validates and queues a request; the handle streams its text. Thread-safe; call from as many threads
    // as there are clients. Refusals come back here, before anything is queued: "invalid_request"
    // (empty/unknown role/invalid UTF-8/bad sampling values, naming the field), "context_exceeded" (system
    // prompt + last message alone do not fit), "busy" (queue full), "shutting_down", "template_failed".
    // A max_tokens beyond the context is clamped to it (finish_reason "length").
    Result<std::unique_ptr<GenerationHandle>> submit(GenerationRequest request);

    // submit, then waits for the end. Errors: submit's and GenerationHandle::next's Failed codes.
    Result<GenerationResult> generate(GenerationRequest request);

    // Computes the KV of `prefix` as the system message (as the chat template renders it before a user turn)
    // and pins it, so that the first conversation reads only its own turns: a server calls this once per
    // model load with its tutor prompt, or with the always-present part of a prompt built from snippets.
    // A new conversation copies the longest token prefix it shares with the pinned prompt or a recent one:
    // a system message `prefix + "\n\n" + chosen snippets` reuses every token up to where its tokens differ
    // from the prefix's own rendering (decided on tokens, so a tokenizer merge at the boundary only costs
    // that token), and its whole system part when that combination was seen recently. Conversations never
    // replace the pinned prompt; a later call does. Returns the number of tokens computed. Blocks.
    // Errors: "invalid_request" (empty or invalid UTF-8), "no_shared_prefix" (the template puts nothing
    // before the first user turn that depends only on the system message), and generate's errors.
    Result<int> prefill_system_prompt(const std::string& prefix);

    EngineStats stats() const;
    int context_size() const;
    const LoadedModel& model() const;

    class Impl;

  private:
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Every error code Engine::create, submit, generate, prefill_system_prompt and GenerationHandle::next can
// return, for checks that each has a documented meaning for clients.
inline constexpr std::array<std::string_view, 12> kEngineErrorCodes = {
    "no_model",        "invalid_options",  "context_failed",   "adapter_failed",
    "invalid_request", "context_exceeded", "cancelled",        "busy",
    "shutting_down",   "template_failed",  "no_shared_prefix", "decode_failed"};

}  // namespace mimir
