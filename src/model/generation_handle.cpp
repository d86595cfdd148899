// The reader's side of a generation (GenerationHandle) and the decode thread's side of what they share.
#include <utility>

#include "model/engine_impl.h"

namespace mimir {

void GenerationHandle::State::push(std::string_view text, std::vector<TokenLogprob>::const_iterator first,
                                   std::vector<TokenLogprob>::const_iterator last) {
    bool wake = false;
    {
        std::lock_guard lock(mutex);
        pending_text.append(text);
        pending_logprobs.insert(pending_logprobs.end(), first, last);
        wake = !std::exchange(wake_sent, true);
    }
    if (wake) changed.notify_one();
}

void GenerationHandle::State::finish(Result<GenerationResult> result) {
    {
        std::lock_guard lock(mutex);
        outcome.emplace(std::move(result));
    }
    changed.notify_one();
}

Result<GenerationResult> GenerationHandle::State::wait_outcome() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return outcome.has_value(); });
    outcome_delivered = true;
    return std::move(*outcome);
}

GenerationHandle::GenerationHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}

GenerationHandle::~GenerationHandle() {
    cancel();
}

void GenerationHandle::cancel() {
    state_->cancelled.store(true, std::memory_order_relaxed);
}

GenerationEvent GenerationHandle::next(std::chrono::milliseconds timeout) {
    State& s = *state_;
    std::unique_lock lock(s.mutex);
    auto has_news = [&] {
        return !s.pending_text.empty() || !s.pending_logprobs.empty() || (s.outcome && !s.outcome_delivered);
    };
    s.changed.wait_for(lock, timeout, has_news);
    const bool has_pending = !s.pending_text.empty() || !s.pending_logprobs.empty();
    if (has_pending && !s.outcome) {
        // More text arriving meanwhile joins this piece; the end of the generation releases it at once.
        s.changed.wait_until(lock, s.last_text + kTextInterval, [&] { return s.outcome.has_value(); });
    }
    GenerationEvent event;
    if (has_pending) {
        event.kind = GenerationEvent::Kind::Text;
        event.text = std::exchange(s.pending_text, {});
        event.logprobs = std::exchange(s.pending_logprobs, {});
        s.wake_sent = false;
        s.last_text = EngineClock::now();
    } else if (s.outcome && !s.outcome_delivered) {
        s.outcome_delivered = true;
        if (s.outcome->ok()) {
            event.kind = GenerationEvent::Kind::Finished;
            event.result = std::move(s.outcome->value());
        } else {
            event.kind = GenerationEvent::Kind::Failed;
            event.error = s.outcome->error();
        }
    }
    return event;
}

}  // namespace mimir
