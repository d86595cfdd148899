#include "serve/reply_guard.h"

namespace mimir::serve {

GuardSettings guard_settings_for(const GuardSettings& server, std::optional<bool> requested) {
    GuardSettings settings = server;
    if (requested) settings.enabled = *requested;
    return settings;
}

void guard_whole_reply(GenerationResult& result, const GuardSettings& settings, ServerMetrics& metrics) {
    if (!settings.enabled) return;
    GuardTally tally;
    result.text = guard_reply(result.text, settings, &tally);
    if (tally.of(GuardRule::Length) > 0) result.finish_reason = "length";
    metrics.record_guarded_reply(tally);
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
