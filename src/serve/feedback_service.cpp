#include "serve/feedback_service.h"

#include <spdlog/spdlog.h>

namespace mimir::serve {

FeedbackService::FeedbackService(const ServeOptions& options)
    : rate_limiter_(options.feedback_rate_limit_per_minute, options.feedback_rate_limit_burst) {}

Status FeedbackService::open(const ServeOptions& options) {
    if (options.feedback_store) {
        store_ = options.feedback_store;
    } else if (!options.data_location.empty()) {
        Result<std::unique_ptr<data::FeedbackStore>> opened =
            data::open_feedback_store(options.data_location);
        if (!opened) return opened.error();
        store_ = std::move(*opened);
    } else {
        spdlog::warn("event=feedback_off reason=\"no feedback store given\"");
        return ok_status();
    }
    Result<eval::PhraseLists> phrases = eval::load_phrase_lists(options.phrases_dir);
    if (!phrases)
        return Error{phrases.error().code, "the checks' phrase lists: " + phrases.error().message +
                                               " (run from the repository, or pass --phrases DIR)"};
    phrases_ = std::move(*phrases);
    Result<std::vector<const eval::CheckInfo*>> checks = eval::select_checks(eval::standalone_check_names());
    if (!checks) return checks.error();
    checks_ = std::move(*checks);
    spdlog::info("event=feedback_store_open store=\"{}\" checks={}", store_->describe(), checks_.size());
    return ok_status();
}

std::vector<data::StoredCheck> FeedbackService::check(const std::string& prompt,
                                                      const std::string& reply) const {
    const eval::EvalCase eval_case{.prompt = prompt, .homework = eval::looks_like_homework_request(prompt)};
    std::vector<data::StoredCheck> results;
    for (const eval::CheckInfo* info : checks_) {
        const eval::CheckResult result = info->run({eval_case, reply, phrases_});
        if (result.outcome == eval::Outcome::not_applicable) continue;
        results.push_back({.name = info->name, .passed = !result.failed(), .reason = result.reason});
    }
    return results;
}

}  // namespace mimir::serve
