// Inside the engine (not a public header): the request queue shared with callers, and the slots that the
// decode thread alone touches. engine.cpp holds the caller side, decode_loop.cpp the decode thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "model/chat_prompt.h"
#include "model/engine.h"
#include "model/llama_handles.h"
#include "model/sampler.h"
#include "model/stop_strings.h"
#include "model/utf8_stream.h"

namespace mimir {

using EngineClock = std::chrono::steady_clock;

// What a GenerationHandle and its Job share: the decode thread appends text and finally the outcome; the
// reader takes them. The decode thread never waits on the reader, which may be gone.
struct GenerationHandle::State {
    std::atomic<bool> cancelled{false};
    std::mutex mutex;
    std::condition_variable changed;
    std::string pending_text;
    std::vector<TokenLogprob> pending_logprobs;
    bool wake_sent = false;  // the reader was woken for what is pending already
    EngineClock::time_point last_text{};
    std::optional<Result<GenerationResult>> outcome;
    bool outcome_delivered = false;

    // Decode thread. A notify only when the reader has not been woken for pending text yet.
    void push(std::string_view text, std::vector<TokenLogprob>::const_iterator first,
              std::vector<TokenLogprob>::const_iterator last);
    void finish(Result<GenerationResult> result);
    // Blocks until the outcome is there (for callers that need no text).
    Result<GenerationResult> wait_outcome();
};

// One accepted request, from the queue until its outcome is handed over.
struct Job {
    Job(GenerationRequest req, ChatPrompt chat_prompt, int token_limit, const llama_vocab* vocab)
        : request(std::move(req)),
          prompt(std::move(chat_prompt)),
          max_tokens(token_limit),
          sampler(request.sampling, vocab),
          stop_filter(request.sampling.stop),
          state(std::make_shared<GenerationHandle::State>()) {}

    GenerationRequest request;
    ChatPrompt prompt;
    int max_tokens;
    RequestSampler sampler;
    Utf8Stream utf8;
    StopStringFilter stop_filter;
    EngineClock::time_point start = EngineClock::now();
    std::shared_ptr<GenerationHandle::State> state;
    GenerationResult result;
    size_t logprobs_sent = 0;  // entries of result.logprobs pushed to the reader

    // Decode state.
    size_t n_prompt_decoded = 0;  // prompt tokens whose KV the slot holds
    bool generating = false;      // prompt fully decoded; `next_token` waits to be decoded
    llama_token next_token = -1;
    int batch_start = 0;    // where this job's tokens begin in the batch being decoded
    int n_in_batch = 0;     // how many tokens it put there
    int logits_index = -1;  // its output row in that batch, -1 when none
    bool shared_prefix_published = false;
    bool prefill_only = false;  // computes the prompt's KV for later conversations; no reply

    bool is_cancelled() const { return state->cancelled.load(std::memory_order_relaxed); }
};

// One llama.cpp sequence. `cached` mirrors exactly which tokens its KV holds (positions 0..n-1), so a
// later request can reuse the longest common prefix.
struct Slot {
    llama_seq_id seq_id = 0;
    std::vector<llama_token> cached;
    std::unique_ptr<Job> job;  // null when idle
    uint64_t last_used = 0;
};

// A sequence that holds only a system prompt's KV (no conversation), copied into new conversations.
struct SharedPrompt {
    llama_seq_id seq_id = 0;
    std::vector<llama_token> cached;  // empty = holds nothing
    uint64_t last_used = 0;
};

class Engine::Impl {
  public:
    Impl(std::shared_ptr<const LoadedModel> model, EngineOptions options, ContextHandle ctx);
    ~Impl();

    Result<std::unique_ptr<GenerationHandle>> submit(GenerationRequest request);
    Result<int> prefill_system_prompt(const std::string& system_prompt);
    EngineStats stats() const;
    int context_size() const { return n_ctx_; }
    const LoadedModel& model() const { return *model_; }

  private:
    Result<std::unique_ptr<Job>> prepare(GenerationRequest request) const;
    void count_failure();
    // Queues the job; its state is what the caller reads. Errors: "busy", "shutting_down".
    Result<std::shared_ptr<GenerationHandle::State>> enqueue(std::unique_ptr<Job> job);

    // Decode thread (decode_loop.cpp).
    void decode_loop();
    void start_job(std::unique_ptr<Job> job);
    Slot& choose_slot(const std::vector<llama_token>& prompt, size_t& reusable);
    void drop_cancelled();
    void drop_cancelled_queued();
    void decode_step();
    bool fill_batch();
    void after_decode();
    void on_context_full();
    void publish_shared_prefix(Slot& slot);
    SharedPrompt* longest_shared_prefix(const std::vector<llama_token>& prompt, size_t& length);
    SharedPrompt& recent_prompt_to_replace();
    bool forget_recent_prompts();
    void sample_next(Slot& slot);
    void record_logprob(Job& job, llama_token token, const std::string& piece);
    void deliver(Job& job, const std::string& text, bool final);
    void finish(Slot& slot, const char* finish_reason);
    void finish_prefill(Slot& slot);
    void release(Slot& slot, Result<GenerationResult> outcome);  // hands the outcome over, frees the slot
    void fail(Slot& slot, Error error, bool clear_sequence);
    void fail_everything(const Error& error);
    int idle_slots() const;

    std::shared_ptr<const LoadedModel> model_;
    EngineOptions options_;
    ContextHandle ctx_;
    const llama_vocab* vocab_;
    llama_memory_t memory_;
    int n_ctx_;
    int n_batch_;
    BatchOwner batch_;

    // Owned by the decode thread.
    std::vector<Slot> slots_;
    // [0] the pinned prompt (prefill_system_prompt), then the recent system prompts; empty with one slot
    // (its own cache keeps the prompt).
    std::vector<SharedPrompt> shared_;
    uint64_t use_counter_ = 0;

    // Shared with callers, under mutex_.
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<Job>> queue_;
    bool stopping_ = false;
    EngineStats stats_;

    std::thread thread_;
};

}  // namespace mimir
