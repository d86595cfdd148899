// The generation engine: one llama.cpp context serving many conversations at once by continuous
// batching. Each request has its own sampler and streams text through a callback; requests can be
// cancelled mid-stream. KV cache of a conversation's unchanged prefix is reused between turns, and a
// shared prefix (the system prompt) is computed once and copied into new sequences.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/model_manager.h"
#include "support/result.h"

namespace mimir {

struct ChatMessage {
    std::string role;     // "system", "user" or "assistant"
    std::string content;  // valid UTF-8, not empty
};

// Per-request sampling. Validated by Engine::generate (ranges in the comments).
struct SamplingParams {
    float temperature = 0.7f;     // 0 = greedy; [0, 5]
    float top_p = 0.95f;          // (0, 1]
    int top_k = 40;               // 0 = off
    float repeat_penalty = 1.1f;  // 1 = off
    int repeat_last_n = 64;
    uint32_t seed = 0xFFFFFFFF;       // LLAMA_DEFAULT_SEED = random
    int max_tokens = 512;             // [1, context size]
    std::vector<std::string> stop;    // extra stop strings; the model's end-of-turn always stops
    bool ignore_end_of_turn = false;  // for benchmarks: never sample end-of-generation tokens
};

struct GenerationRequest {
    std::vector<ChatMessage> messages;
    SamplingParams sampling;
    // Called on the engine's decode thread with each new piece of valid UTF-8 text (never a partial
    // character, never part of a stop string). Keep it quick: every running sequence waits for it.
    // Return false to cancel the request (e.g. the client disconnected).
    std::function<bool(std::string_view text)> on_text;
    // Another way to cancel: set to true from any thread.
    std::shared_ptr<std::atomic<bool>> cancelled;
};

struct GenerationResult {
    std::string text;
    std::string finish_reason;  // "stop" (end of turn or stop string), "length" (max_tokens or the
                                // context ran out), "cancelled" (mid-stream; `text` is what was sent)
    int prompt_tokens = 0;
    int completion_tokens = 0;
    int cached_prompt_tokens = 0;  // prompt tokens whose KV was reused rather than computed
    int dropped_messages = 0;      // oldest turns removed to fit the context
    double time_to_first_token_ms = 0;
    double total_ms = 0;
};

struct EngineOptions {
    int n_ctx = 4096;    // total context, shared by all sequences (unified KV cache)
    int n_parallel = 4;  // sequences decoded together
    int n_batch = 512;
    int n_threads = 0;   // 0 = hardware concurrency
    int max_queue = 64;  // requests waiting beyond the running ones; more get "busy"
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

    // Blocks until the request finishes. Thread-safe; call from as many threads as there are clients.
    // Errors: "invalid_request" (empty/unknown role/invalid UTF-8/bad sampling values, naming the field),
    // "context_exceeded" (system prompt + last message alone do not fit, or the shared context is full),
    // "cancelled" (cancelled before it started), "busy" (queue full), "shutting_down", "template_failed",
    // "decode_failed". A max_tokens beyond the context is clamped to it (finish_reason "length").
    Result<GenerationResult> generate(GenerationRequest request);

    // Computes the KV of `system_prompt` (as the chat template renders it before a user turn) into the
    // shared sequence now, so that the first conversation using it reads only its own turns: a server calls
    // this once per model load with its tutor prompt. Returns the number of prefix tokens. Blocks.
    // Errors: "invalid_request" (empty or invalid UTF-8), "no_shared_prefix" (the template puts nothing
    // before the first user turn that depends only on the system message), and generate's errors.
    Result<int> prefill_system_prompt(const std::string& system_prompt);

    EngineStats stats() const;
    int context_size() const;
    const LoadedModel& model() const;

    class Impl;

  private:
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace mimir
