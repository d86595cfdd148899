#include "serve/reply_guard.h"

namespace mimir::serve {

GuardSettings guard_settings_for(const GuardSettings& server, std::optional<bool> requested) {
    GuardSettings settings = server;
    if (requested) settings.enabled = *requested;
    return settings;
}

Result<GenerationResult> generate_guarded(Engine& engine, GenerationRequest request,
                                          const GuardSettings& settings, ServerMetrics& metrics) {
    if (!settings.enabled) return engine.generate(std::move(request));
    Result<std::unique_ptr<GenerationHandle>> handle = engine.submit(std::move(request));
    if (!handle) return handle.error();
    StreamReplyGuard guard(settings, metrics);
    for (;;) {
        GenerationEvent event = (*handle)->next(std::chrono::hours(1));
        switch (event.kind) {
            case GenerationEvent::Kind::Text:
                if (guard.stopped()) break;
                guard.on_text(event.text);
                if (guard.stopped()) (*handle)->cancel();
                break;
            case GenerationEvent::Kind::Finished:
                guard.on_finished(event.result);
                return std::move(event.result);
            case GenerationEvent::Kind::Failed:
                return std::move(event.error);
            case GenerationEvent::Kind::Idle:
                break;
        }
    }
}

StreamReplyGuard::StreamReplyGuard(GuardSettings settings, ServerMetrics& metrics)
    : enabled_(settings.enabled), guard_(settings), metrics_(metrics) {}

std::string StreamReplyGuard::on_text(std::string_view text) {
    std::string now = guard_.push(text);
    sent_ += now;
    return now;
}

std::string StreamReplyGuard::on_finished(GenerationResult& result) {
    if (!enabled_) return {};
    std::string rest = guard_.finish();
    sent_ += rest;
    if (guard_.stopped()) result.finish_reason = "length";
    result.text = sent_;
    metrics_.record_guarded_reply(guard_.tally());
    return rest;
}

}  // namespace mimir::serve
