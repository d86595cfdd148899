// The engine's decode thread: admits queued requests into slots (reusing cached prefixes), decodes one
// batch per step holding every running sequence's next token plus as much pending prompt as fits, samples
// each sequence with its own chain and streams the text out.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "model/engine_impl.h"

namespace mimir {

namespace {

size_t common_prefix(const std::vector<llama_token>& a, const std::vector<llama_token>& b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

double ms_since(EngineClock::time_point start) {
    return std::chrono::duration<double, std::milli>(EngineClock::now() - start).count();
}

void add_to_batch(llama_batch& batch, llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
    const int i = batch.n_tokens++;
    batch.token[i] = token;
    batch.pos[i] = pos;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = seq;
    batch.logits[i] = logits;
}

std::string token_piece(const llama_vocab* vocab, llama_token token) {
    std::string piece(64, '\0');
    int32_t n =
        llama_token_to_piece(vocab, token, piece.data(), static_cast<int32_t>(piece.size()), 0, false);
    if (n < 0) {
        piece.resize(static_cast<size_t>(-n));
        n = llama_token_to_piece(vocab, token, piece.data(), static_cast<int32_t>(piece.size()), 0, false);
    }
    piece.resize(static_cast<size_t>(std::max(n, 0)));
    return piece;
}

}  // namespace

int Engine::Impl::idle_slots() const {
    return options_.n_parallel - stats_.active;
}

void Engine::Impl::decode_loop() {
    for (;;) {
        std::vector<std::unique_ptr<Job>> arrivals;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || stats_.active > 0; });
            if (stopping_) break;
            drop_cancelled_queued();
            for (int idle = idle_slots(); idle > 0 && !queue_.empty(); --idle) {
                arrivals.push_back(std::move(queue_.front()));
                queue_.pop_front();
                ++stats_.active;
            }
            stats_.queued = static_cast<int>(queue_.size());
        }
        for (std::unique_ptr<Job>& job : arrivals) start_job(std::move(job));
        drop_cancelled();
        decode_step();
    }
    fail_everything(Error{"shutting_down", "the engine is shutting down"});
}

SharedPrompt* Engine::Impl::longest_shared_prefix(const std::vector<llama_token>& prompt, size_t& length) {
    // A shared prompt's KV is exact for any leading part of it (attention is causal), so a prompt that
    // continues the pinned prefix with other snippets still reuses every token they have in common.
    SharedPrompt* longest = nullptr;
    length = 0;
    for (SharedPrompt& shared : shared_) {
        const size_t n = common_prefix(shared.cached, prompt);
        if (n > length) {
            longest = &shared;
            length = n;
        }
    }
    return longest;
}

Slot& Engine::Impl::choose_slot(const std::vector<llama_token>& prompt, size_t& reusable) {
    // Each idle slot can serve the request from its own cache or from a copy of the shared system prompt
    // that shares the most tokens with it. Score = 2 x tokens reused - cached tokens of another conversation
    // thrown away, so a student's next turn returns to its own slot, while a new student takes the shared
    // prompt into an empty or old slot instead of evicting a conversation that merely starts the same way.
    // Tokens of a slot that a shared prompt also holds are not lost by overwriting it: with snippet prompts
    // an old conversation shares the prefix with every new one, which must not make its slot the cheapest
    // place to recompute the new one's snippets.
    size_t shared_length = 0;
    SharedPrompt* shared = longest_shared_prefix(prompt, shared_length);
    Slot* best = nullptr;
    bool best_uses_shared = false;
    long best_score = 0;
    auto consider = [&](Slot& slot, size_t reused, size_t discarded, bool uses_shared) {
        const long score = 2 * static_cast<long>(reused) - static_cast<long>(discarded);
        if (!best || score > best_score || (score == best_score && slot.last_used < best->last_used)) {
            best = &slot;
            best_score = score;
            best_uses_shared = uses_shared;
            reusable = reused;
        }
    };
    for (Slot& slot : slots_) {
        if (slot.job) continue;
        const size_t own = common_prefix(slot.cached, prompt);
        size_t held_elsewhere = 0;
        longest_shared_prefix(slot.cached, held_elsewhere);
        consider(slot, own, slot.cached.size() - std::max(own, held_elsewhere), false);
        if (shared) consider(slot, shared_length, slot.cached.size() - held_elsewhere, true);
    }
    if (best_uses_shared) {
        // In a unified KV cache the copy only tags the shared cells with this sequence too.
        llama_memory_seq_rm(memory_, best->seq_id, -1, -1);
        llama_memory_seq_cp(memory_, shared->seq_id, best->seq_id, 0, static_cast<llama_pos>(reusable));
        best->cached.assign(shared->cached.begin(),
                            shared->cached.begin() + static_cast<std::ptrdiff_t>(reusable));
        shared->last_used = ++use_counter_;
    }
    return *best;
}

void Engine::Impl::start_job(std::unique_ptr<Job> job) {
    const std::vector<llama_token>& prompt = job->prompt.tokens;
    size_t reusable = 0;
    Slot& slot = choose_slot(prompt, reusable);
    // At least the last prompt token must be decoded again: its logits give the first reply token.
    size_t keep = std::min(reusable, prompt.size() - 1);
    if (keep < slot.cached.size() &&
        !llama_memory_seq_rm(memory_, slot.seq_id, static_cast<llama_pos>(keep), -1)) {
        // Some memories (recurrent, sliding-window) cannot drop a tail: start this sequence afresh.
        llama_memory_seq_rm(memory_, slot.seq_id, -1, -1);
        keep = 0;
    }
    slot.cached.resize(keep);
    job->n_prompt_decoded = keep;
    job->result.cached_prompt_tokens = static_cast<int>(keep);
    slot.job = std::move(job);
}

void Engine::Impl::drop_cancelled_queued() {
    // A client that leaves while every slot is busy must not keep its queue place (and its HTTP worker)
    // until a slot frees. Called with mutex_ held.
    for (auto it = queue_.begin(); it != queue_.end();) {
        if (!(*it)->is_cancelled()) {
            ++it;
            continue;
        }
        ++stats_.cancelled;
        (*it)->state->finish(Error{"cancelled", "the request was cancelled before it started"});
        it = queue_.erase(it);
    }
}

void Engine::Impl::drop_cancelled() {
    for (Slot& slot : slots_) {
        if (slot.job && slot.job->is_cancelled()) finish(slot, "cancelled");
    }
}

bool Engine::Impl::fill_batch() {
    llama_batch& batch = batch_.get();
    batch.n_tokens = 0;
    // Running sequences first (one token each): they are what students are watching.
    for (Slot& slot : slots_) {
        Job* job = slot.job.get();
        if (!job || !job->generating) continue;
        job->batch_start = batch.n_tokens;
        add_to_batch(batch, job->next_token, static_cast<llama_pos>(slot.cached.size()), slot.seq_id, true);
        job->n_in_batch = 1;
        job->logits_index = batch.n_tokens - 1;
    }
    // Then pending prompts. While others are streaming, a step takes only a quarter batch of prompt, so a
    // long new conversation delays their next token by a short chunk instead of a whole batch.
    const int n_streaming = batch.n_tokens;
    const int limit =
        n_streaming > 0 ? std::min(n_batch_, n_streaming + std::max(n_batch_ / 4, 32)) : n_batch_;
    for (Slot& slot : slots_) {
        Job* job = slot.job.get();
        if (!job || job->generating) continue;
        const std::vector<llama_token>& prompt = job->prompt.tokens;
        const size_t take = std::min(prompt.size() - job->n_prompt_decoded,
                                     static_cast<size_t>(std::max(limit - batch.n_tokens, 0)));
        if (take == 0) break;
        job->batch_start = batch.n_tokens;
        for (size_t i = job->n_prompt_decoded; i < job->n_prompt_decoded + take; ++i) {
            add_to_batch(batch, prompt[i], static_cast<llama_pos>(i), slot.seq_id, i + 1 == prompt.size());
        }
        job->n_in_batch = static_cast<int>(take);
        job->logits_index = job->n_prompt_decoded + take == prompt.size() ? batch.n_tokens - 1 : -1;
    }
    return batch.n_tokens > 0;
}

void Engine::Impl::decode_step() {
    if (!fill_batch()) return;
    const int32_t status = llama_decode(ctx_.get(), batch_.get());
    if (status == 0) {
        after_decode();
        return;
    }
    for (Slot& slot : slots_) {
        if (slot.job) slot.job->n_in_batch = 0;
    }
    if (status == 1) {
        on_context_full();
        return;
    }
    spdlog::error("event=decode_failed status={} batch_tokens={}", status, batch_.get().n_tokens);
    for (Slot& slot : slots_) {
        if (slot.job)
            fail(slot, Error{"decode_failed", "llama_decode failed with status " + std::to_string(status)},
                 true);
    }
}

bool Engine::Impl::forget_recent_prompts() {
    bool forgot = false;
    for (size_t i = 1; i < shared_.size(); ++i) {
        if (shared_[i].cached.empty()) continue;
        llama_memory_seq_rm(memory_, shared_[i].seq_id, -1, -1);
        shared_[i].cached.clear();
        shared_[i].last_used = 0;
        forgot = true;
    }
    return forgot;
}

void Engine::Impl::on_context_full() {
    // First give up what is only a cache: the recent system prompts and the KV of idle conversations (the
    // pinned prompt stays); then end the biggest running conversation.
    bool freed = forget_recent_prompts();
    for (Slot& slot : slots_) {
        if (slot.job || slot.cached.empty()) continue;
        llama_memory_seq_rm(memory_, slot.seq_id, -1, -1);
        slot.cached.clear();
        freed = true;
    }
    if (freed) return;
    Slot* biggest = nullptr;
    for (Slot& slot : slots_) {
        if (slot.job && (!biggest || slot.cached.size() > biggest->cached.size())) biggest = &slot;
    }
    if (!biggest) return;
    spdlog::warn("event=context_full seq={} tokens={}", biggest->seq_id, biggest->cached.size());
    if (biggest->job->generating) {
        finish(*biggest, "length");
    } else {
        fail(*biggest, Error{"context_exceeded", "the context is full with other conversations; retry later"},
             true);
    }
}

void Engine::Impl::after_decode() {
    const llama_batch& batch = batch_.get();
    for (Slot& slot : slots_) {
        if (!slot.job || slot.job->n_in_batch == 0) continue;
        Job& job = *slot.job;
        slot.cached.insert(slot.cached.end(), batch.token + job.batch_start,
                           batch.token + job.batch_start + job.n_in_batch);
        const int decoded = std::exchange(job.n_in_batch, 0);
        if (!job.generating) {
            job.n_prompt_decoded += static_cast<size_t>(decoded);
            publish_shared_prefix(slot);
            if (job.n_prompt_decoded < job.prompt.tokens.size()) continue;
            if (job.prefill_only) {
                finish_prefill(slot);
                continue;
            }
            job.generating = true;
        }
        sample_next(slot);
    }
}

SharedPrompt& Engine::Impl::recent_prompt_to_replace() {
    // An empty one, else the least recently used; shared_[0] is the pinned prompt.
    SharedPrompt* oldest = &shared_[1];
    for (size_t i = 1; i < shared_.size(); ++i) {
        if (shared_[i].cached.empty()) return shared_[i];
        if (shared_[i].last_used < oldest->last_used) oldest = &shared_[i];
    }
    return *oldest;
}

void Engine::Impl::publish_shared_prefix(Slot& slot) {
    Job& job = *slot.job;
    const size_t n_system = static_cast<size_t>(job.prompt.system_prefix_tokens);
    if (shared_.empty() || job.shared_prefix_published || n_system == 0 || job.n_prompt_decoded < n_system)
        return;
    job.shared_prefix_published = true;
    const auto system_begin = job.prompt.tokens.begin();
    const auto system_end = system_begin + static_cast<std::ptrdiff_t>(n_system);
    auto holds_it = [&](const SharedPrompt& shared) {
        return std::equal(shared.cached.begin(), shared.cached.end(), system_begin, system_end);
    };
    // A prefill pins its prompt; a conversation's system prompt joins the recent ones unless it is there
    // already, replacing the least recently used, so passing conversations never displace the pinned one.
    if (holds_it(shared_[0])) return;
    SharedPrompt* target = job.prefill_only ? &shared_[0] : nullptr;
    if (!target) {
        if (shared_.size() == 1) return;
        auto known = std::find_if(shared_.begin() + 1, shared_.end(), holds_it);
        if (known != shared_.end()) {
            known->last_used = ++use_counter_;
            return;
        }
        target = &recent_prompt_to_replace();
    }
    // In a unified KV cache the copy only tags the same cells with another sequence id.
    llama_memory_seq_rm(memory_, target->seq_id, -1, -1);
    llama_memory_seq_cp(memory_, slot.seq_id, target->seq_id, 0, static_cast<llama_pos>(n_system));
    target->cached.assign(system_begin, system_end);
    target->last_used = ++use_counter_;
}

void Engine::Impl::sample_next(Slot& slot) {
    Job& job = *slot.job;
    const llama_token token = job.sampler.sample(ctx_.get(), job.logits_index);
    if (job.result.completion_tokens == 0) job.result.time_to_first_token_ms = ms_since(job.start);
    if (llama_vocab_is_eog(vocab_, token)) {
        finish(slot, "stop");
        return;
    }
    ++job.result.completion_tokens;
    std::string piece = token_piece(vocab_, token);
    if (job.request.sampling.logprobs) record_logprob(job, token, piece);
    deliver(job, job.stop_filter.push(job.utf8.push(piece)), false);
    if (job.stop_filter.stopped()) {
        finish(slot, "stop");
    } else if (job.is_cancelled()) {
        finish(slot, "cancelled");
    } else if (job.result.completion_tokens >= job.max_tokens ||
               static_cast<int>(slot.cached.size()) >= n_ctx_) {
        finish(slot, "length");
    } else {
        job.next_token = token;
    }
}

void Engine::Impl::record_logprob(Job& job, llama_token token, const std::string& piece) {
    const float* logits = llama_get_logits_ith(ctx_.get(), job.logits_index);
    const LogSoftmax log_softmax(logits, llama_vocab_n_tokens(vocab_));
    TokenLogprob entry{.sampled = {.token = piece, .logprob = log_softmax.at(token)}};
    for (llama_token alternative : log_softmax.likeliest(job.request.sampling.top_logprobs)) {
        entry.top.push_back(
            {.token = token_piece(vocab_, alternative), .logprob = log_softmax.at(alternative)});
    }
    job.result.logprobs.push_back(std::move(entry));
}

void Engine::Impl::deliver(Job& job, const std::string& text, bool final) {
    // Logprobs go out with the text their tokens produced; at the end, also those whose text was held back
    // (a stop string) so that the reader gets every token.
    const std::vector<TokenLogprob>& logprobs = job.result.logprobs;
    const bool logprobs_left = job.logprobs_sent < logprobs.size();
    if (text.empty() && !(final && logprobs_left)) return;
    job.result.text += text;
    job.state->push(text, logprobs.begin() + static_cast<std::ptrdiff_t>(job.logprobs_sent), logprobs.end());
    job.logprobs_sent = logprobs.size();
}

void Engine::Impl::finish(Slot& slot, const char* finish_reason) {
    Job& job = *slot.job;
    const bool cancelled = std::string_view(finish_reason) == "cancelled";
    if (!cancelled) {
        std::string tail = job.stop_filter.push(job.utf8.finish());
        tail += job.stop_filter.flush();
        deliver(job, tail, true);
    }
    GenerationResult& result = job.result;
    result.finish_reason = finish_reason;
    result.prompt_tokens = static_cast<int>(job.prompt.tokens.size());
    result.dropped_messages = job.prompt.dropped_messages;
    result.total_ms = ms_since(job.start);
    spdlog::info(
        "event=generation finish={} seq={} prompt_tokens={} cached_tokens={} completion_tokens={} "
        "ttft_ms={:.1f} total_ms={:.1f}",
        finish_reason, slot.seq_id, result.prompt_tokens, result.cached_prompt_tokens,
        result.completion_tokens, result.time_to_first_token_ms, result.total_ms);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --stats_.active;
        ++(cancelled ? stats_.cancelled : stats_.completed);
        stats_.prompt_tokens += static_cast<uint64_t>(result.prompt_tokens);
        stats_.cached_prompt_tokens += static_cast<uint64_t>(result.cached_prompt_tokens);
        stats_.generated_tokens += static_cast<uint64_t>(result.completion_tokens);
    }
    release(slot, std::move(result));
}

void Engine::Impl::finish_prefill(Slot& slot) {
    // Not a student's request: no reply, no log line of its own, no request statistics.
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --stats_.active;
    }
    release(slot, GenerationResult{});
}

void Engine::Impl::release(Slot& slot, Result<GenerationResult> outcome) {
    slot.job->state->finish(std::move(outcome));
    slot.job.reset();
    slot.last_used = ++use_counter_;
}

void Engine::Impl::fail(Slot& slot, Error error, bool clear_sequence) {
    spdlog::warn("event=generation_failed seq={} code={} message=\"{}\"", slot.seq_id, error.code,
                 error.message);
    if (clear_sequence) {
        llama_memory_seq_rm(memory_, slot.seq_id, -1, -1);
        slot.cached.clear();
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --stats_.active;
        ++stats_.failed;
    }
    release(slot, std::move(error));
}

void Engine::Impl::fail_everything(const Error& error) {
    for (Slot& slot : slots_) {
        if (slot.job) fail(slot, error, false);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::unique_ptr<Job>& job : queue_) {
        ++stats_.failed;
        job->state->finish(error);
    }
    queue_.clear();
    stats_.queued = 0;
}

}  // namespace mimir
