#include "model/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "model/engine_impl.h"
#include "model/sampler.h"
#include "support/system.h"

namespace mimir {

namespace {

constexpr int kMaxParallel = 64;
constexpr int kMaxRecentSystemPrompts = 64;

Status validate_options(const EngineOptions& options) {
    auto invalid = [](const std::string& why) { return Status::failure("invalid_options", why); };
    if (options.n_ctx < 64) return invalid("n_ctx must be at least 64");
    if (options.n_parallel < 1 || options.n_parallel > kMaxParallel) {
        return invalid("n_parallel must be in [1, " + std::to_string(kMaxParallel) + "]");
    }
    // Every running sequence puts its next token in each batch.
    if (options.n_batch < options.n_parallel) return invalid("n_batch must be at least n_parallel");
    if (options.n_threads < 0) return invalid("n_threads must be >= 0 (0 = all cores)");
    if (options.max_queue < 0) return invalid("max_queue must be >= 0");
    if (options.n_recent_system_prompts < 0 || options.n_recent_system_prompts > kMaxRecentSystemPrompts) {
        return invalid("n_recent_system_prompts must be in [0, " + std::to_string(kMaxRecentSystemPrompts) +
                       "]");
    }
    return ok_status();
}

// How many sequences hold only system prompts (see Engine::create): the pinned one and the recent ones.
int shared_sequence_count(const EngineOptions& options) {
    return options.n_parallel > 1 ? 1 + options.n_recent_system_prompts : 0;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const LoadedModel> model,
                                               EngineOptions options) {
    using R = Result<std::unique_ptr<Engine>>;
    if (!model || !model->model)
        return R::failure("no_model", "no model is loaded; generation is unavailable");
    if (Status valid = validate_options(options); !valid) return valid.error();
    ensure_llama_backend();
    if (options.n_threads == 0) options.n_threads = default_thread_count();
    options.n_batch = std::min(options.n_batch, options.n_ctx);

    llama_context_params params = llama_context_default_params();
    params.n_ctx = static_cast<uint32_t>(options.n_ctx);
    params.n_batch = static_cast<uint32_t>(options.n_batch);
    params.n_ubatch = static_cast<uint32_t>(std::min(options.n_batch, 512));
    // Several slots share one cell pool (a copied system prompt costs no memory, and a long conversation may
    // use what short ones leave) plus sequences holding the shared system prompts. A single slot needs
    // neither: its own cache already keeps the system prompt for the next conversation. That matters for
    // speed: a unified cache makes llama.cpp check all 256 possible sequences on every decode call, ~60 us,
    // which is ~6% of a token on a 20 M-parameter model (nothing on Phi-3-mini, where a token takes ~170 ms).
    const int n_shared = shared_sequence_count(options);
    const bool shares_prefix = n_shared > 0;
    params.n_seq_max = static_cast<uint32_t>(options.n_parallel + n_shared);
    params.n_threads = options.n_threads;
    params.n_threads_batch = options.n_threads;
    params.kv_unified = shares_prefix;
    params.no_perf = true;
    ContextHandle ctx(llama_init_from_model(model->model.get(), params));
    if (!ctx) {
        return R::failure("context_failed", "llama.cpp could not create a context of " +
                                                std::to_string(options.n_ctx) + " tokens (out of memory?)");
    }
    if (model->adapter) {
        llama_adapter_lora* adapter = model->adapter.get();
        float scale = model->adapter_scale;
        if (llama_set_adapters_lora(ctx.get(), &adapter, 1, &scale) != 0) {
            return R::failure("adapter_failed", "llama.cpp refused to apply the LoRA adapter to the context");
        }
    }
    spdlog::info("event=engine_start n_ctx={} n_parallel={} n_batch={} n_threads={} shared_prompts={}",
                 llama_n_ctx(ctx.get()), options.n_parallel, options.n_batch, options.n_threads, n_shared);
    auto impl = std::make_unique<Impl>(std::move(model), options, std::move(ctx));
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;
Result<std::unique_ptr<GenerationHandle>> Engine::submit(GenerationRequest request) {
    return impl_->submit(std::move(request));
}
Result<GenerationResult> Engine::generate(GenerationRequest request) {
    Result<std::unique_ptr<GenerationHandle>> handle = submit(std::move(request));
    if (!handle) return handle.error();
    for (;;) {
        GenerationEvent event = (*handle)->next(std::chrono::hours(1));
        if (event.kind == GenerationEvent::Kind::Finished) return std::move(event.result);
        if (event.kind == GenerationEvent::Kind::Failed) return std::move(event.error);
    }
}
Result<int> Engine::prefill_system_prompt(const std::string& prefix) {
    return impl_->prefill_system_prompt(prefix);
}
EngineStats Engine::stats() const {
    return impl_->stats();
}
int Engine::context_size() const {
    return impl_->context_size();
}
const LoadedModel& Engine::model() const {
    return impl_->model();
}

Engine::Impl::Impl(std::shared_ptr<const LoadedModel> model, EngineOptions options, ContextHandle ctx)
    : model_(std::move(model)),
      options_(options),
      ctx_(std::move(ctx)),
      vocab_(model_->vocab()),
      memory_(llama_get_memory(ctx_.get())),
      n_ctx_(static_cast<int>(llama_n_ctx(ctx_.get()))),
      n_batch_(static_cast<int>(llama_n_batch(ctx_.get()))),
      batch_(n_batch_, 1),
      slots_(static_cast<size_t>(options.n_parallel)),
      shared_(static_cast<size_t>(shared_sequence_count(options))) {
    for (size_t i = 0; i < slots_.size(); ++i) slots_[i].seq_id = static_cast<llama_seq_id>(i);
    for (size_t i = 0; i < shared_.size(); ++i)
        shared_[i].seq_id = static_cast<llama_seq_id>(slots_.size() + i);
    thread_ = std::thread([this] { decode_loop(); });
}

Engine::Impl::~Impl() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

Result<std::unique_ptr<Job>> Engine::Impl::prepare(GenerationRequest request) const {
    if (Status valid = validate_sampling(request.sampling); !valid) return valid.error();
    // Shorten the conversation so a reply of max_tokens fits, but never reserve more than a quarter of the
    // context for it: a long conversation keeps more history and gets a shorter reply ("length").
    const int reserve = std::min(request.sampling.max_tokens, n_ctx_ / 4);
    Result<ChatPrompt> prompt =
        build_chat_prompt(model_->model.get(), request.messages, n_ctx_ - reserve, n_ctx_ - 1);
    if (!prompt) return prompt.error();
    const int room = n_ctx_ - static_cast<int>(prompt->tokens.size());
    const int max_tokens = std::min(request.sampling.max_tokens, room);
    return std::make_unique<Job>(std::move(request), std::move(*prompt), max_tokens, vocab_);
}

void Engine::Impl::count_failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.requests;
    ++stats_.failed;
}

Result<std::unique_ptr<GenerationHandle>> Engine::Impl::submit(GenerationRequest request) {
    Result<std::unique_ptr<Job>> job = prepare(std::move(request));
    if (!job) {
        count_failure();
        spdlog::info("event=generation_rejected code={} message=\"{}\"", job.error().code,
                     job.error().message);
        return job.error();
    }
    Result<std::shared_ptr<GenerationHandle::State>> state = enqueue(std::move(*job));
    if (!state) return state.error();
    return std::make_unique<GenerationHandle>(std::move(*state));
}

Result<int> Engine::Impl::prefill_system_prompt(const std::string& system_prompt) {
    // Any user turn will do: only the tokens that depend on the system message alone are kept.
    GenerationRequest request;
    request.messages = {{"system", system_prompt}, {"user", "?"}};
    request.sampling.temperature = 0;
    request.sampling.max_tokens = 1;
    Result<std::unique_ptr<Job>> job = prepare(std::move(request));
    if (!job) return job.error();
    const int n_prefix = (*job)->prompt.system_prefix_tokens;
    if (n_prefix <= 0) {
        return Result<int>::failure(
            "no_shared_prefix",
            "the chat template puts no tokens before the first user turn that depend only "
            "on the system prompt");
    }
    (*job)->prompt.tokens.resize(static_cast<size_t>(n_prefix));
    (*job)->prefill_only = true;
    const EngineClock::time_point start = EngineClock::now();
    Result<std::shared_ptr<GenerationHandle::State>> state = enqueue(std::move(*job));
    if (!state) return state.error();
    Result<GenerationResult> done = (*state)->wait_outcome();
    if (!done) return done.error();
    spdlog::info("event=system_prompt_prefilled tokens={} ms={:.1f}", n_prefix,
                 std::chrono::duration<double, std::milli>(EngineClock::now() - start).count());
    return n_prefix;
}

Result<std::shared_ptr<GenerationHandle::State>> Engine::Impl::enqueue(std::unique_ptr<Job> job) {
    using R = Result<std::shared_ptr<GenerationHandle::State>>;
    std::shared_ptr<GenerationHandle::State> state = job->state;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!job->prefill_only) ++stats_.requests;
        if (stopping_) {
            ++stats_.failed;
            return R::failure("shutting_down", "the engine is shutting down");
        }
        if (static_cast<int>(queue_.size()) >= options_.max_queue + idle_slots()) {
            ++stats_.failed;
            return R::failure("busy", "all " + std::to_string(options_.n_parallel) +
                                          " slots and the queue of " + std::to_string(options_.max_queue) +
                                          " are full; retry later");
        }
        queue_.push_back(std::move(job));
        stats_.queued = static_cast<int>(queue_.size());
    }
    wake_.notify_one();
    return state;
}

EngineStats Engine::Impl::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

}  // namespace mimir
