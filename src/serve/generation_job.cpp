#include "serve/generation_job.h"

#include <utility>

namespace mimir::serve {

GenerationJob::GenerationJob(std::shared_ptr<Engine> engine, GenerationRequest request)
    : engine_(std::move(engine)), cancelled_(std::make_shared<std::atomic<bool>>(false)) {
    thread_ = std::thread([this, request = std::move(request)]() mutable { run(std::move(request)); });
}

GenerationJob::~GenerationJob() {
    cancel();
    if (thread_.joinable()) thread_.join();
}

void GenerationJob::cancel() {
    cancelled_->store(true);
}

void GenerationJob::run(GenerationRequest request) {
    request.cancelled = cancelled_;
    request.on_text = [this](std::string_view text) {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            pending_text_.append(text);
            wake = !std::exchange(wake_sent_, true);
        }
        if (wake) changed_.notify_one();
        return !cancelled_->load();
    };
    Result<GenerationResult> outcome = engine_->generate(std::move(request));
    {
        std::lock_guard lock(mutex_);
        outcome_.emplace(std::move(outcome));
    }
    changed_.notify_one();
}

GenerationJob::Event GenerationJob::next(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout,
                      [&] { return !pending_text_.empty() || (outcome_ && !outcome_delivered_); });
    if (!pending_text_.empty() && !outcome_) {
        // More text arriving meanwhile joins this piece; the end of the generation releases it at once.
        changed_.wait_until(lock, last_text_ + kTextInterval, [&] { return outcome_.has_value(); });
    }
    Event event;
    if (!pending_text_.empty()) {
        event.kind = Event::Kind::Text;
        event.text = std::move(pending_text_);
        pending_text_.clear();
        wake_sent_ = false;
        last_text_ = std::chrono::steady_clock::now();
    } else if (outcome_ && !outcome_delivered_) {
        outcome_delivered_ = true;
        if (outcome_->ok()) {
            event.kind = Event::Kind::Finished;
            event.result = outcome_->value();
        } else {
            event.kind = Event::Kind::Failed;
            event.error = outcome_->error();
        }
    }
    return event;
}

}  // namespace mimir::serve
