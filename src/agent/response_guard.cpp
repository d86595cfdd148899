#include "agent/response_guard.h"

#include <algorithm>
#include <vector>

#include "agent/guard_cleaner.h"
#include "agent/reply_flaws.h"

namespace mimir {

namespace {

using guard_detail::CleanText;

// Where the length rule ends the cleaned text so far: `end` bytes are final; `cut` when the reply is over.
struct LengthDecision {
    size_t end = 0;
    bool cut = false;
};

LengthDecision decide_length(const CleanText& clean, const GuardSettings& settings, bool complete) {
    const std::string& text = clean.text;
    if (settings.max_words <= 0) return {text.size(), false};
    const auto max_words = static_cast<size_t>(settings.max_words);
    std::vector<size_t> starts, ends;  // of each word
    for (size_t i = 0; i < text.size(); ++i) {
        const bool space = is_space(text[i]);
        const bool previous_space = i == 0 || is_space(text[i - 1]);
        if (!space && previous_space) starts.push_back(i);
        if (!space && (i + 1 == text.size() || is_space(text[i + 1]))) ends.push_back(i + 1);
        if (starts.size() > max_words) break;
    }
    // The sentence after an end at `at` starts in the hold zone: it is dropped if the reply runs long.
    const size_t first_held_word =
        static_cast<size_t>(std::max(1, settings.max_words - settings.hold_words + 1));
    auto starts_in_hold_zone = [&](size_t at) {
        const auto words_before = std::lower_bound(starts.begin(), starts.end(), at) - starts.begin();
        return static_cast<size_t>(words_before) + 1 >= first_held_word;
    };
    if (starts.size() > max_words) {
        const size_t limit = ends[max_words - 1];
        const auto after = std::upper_bound(clean.sentence_ends.begin(), clean.sentence_ends.end(), limit);
        if (after != clean.sentence_ends.begin() && starts_in_hold_zone(*(after - 1)))
            return {*(after - 1), true};
        return {limit, true};
    }
    if (complete) return {text.size(), false};
    size_t end = text.size();
    if (starts.size() == max_words) end = ends[max_words - 1];  // whitespace after it goes if a word follows
    if (!clean.sentence_ends.empty() && starts_in_hold_zone(clean.sentence_ends.back())) {
        end = std::min(end, clean.sentence_ends.back());
    }
    return {end, false};
}

struct Guarded {
    std::string text;
    bool cut = false;
    GuardTally tally;
};

Guarded guard(const CleanText& clean, const GuardSettings& settings, bool complete) {
    const LengthDecision length = decide_length(clean, settings, complete);
    Guarded out;
    out.cut = length.cut;
    for (const auto& [rule, at] : clean.events) {
        if (at <= length.end) ++out.tally.fired[static_cast<size_t>(rule)];
    }
    out.text = clean.text.substr(0, length.end);
    if (length.cut) {
        ++out.tally.fired[static_cast<size_t>(GuardRule::Length)];
        for (const auto& [open, close] : clean.fences) {
            if (open <= length.end && (close == std::string::npos || length.end < close)) out.text += "\n```";
        }
    }
    return out;
}

}  // namespace

const char* guard_rule_name(GuardRule rule) {
    switch (rule) {
        case GuardRule::Emoticons:
            return "emoticons";
        case GuardRule::Dashes:
            return "dashes";
        case GuardRule::Exclamations:
            return "exclamations";
        case GuardRule::Length:
            return "length";
    }
    return "unknown";
}

bool GuardTally::changed() const {
    return std::any_of(fired.begin(), fired.end(), [](uint64_t count) { return count > 0; });
}

GuardTally& GuardTally::operator+=(const GuardTally& other) {
    for (size_t i = 0; i < fired.size(); ++i) fired[i] += other.fired[i];
    return *this;
}

ResponseGuard::ResponseGuard(GuardSettings settings)
    : settings_(settings), pipeline_(std::make_unique<guard_detail::CleaningPipeline>(settings)) {}

ResponseGuard::~ResponseGuard() = default;
ResponseGuard::ResponseGuard(ResponseGuard&&) noexcept = default;
ResponseGuard& ResponseGuard::operator=(ResponseGuard&&) noexcept = default;

std::string ResponseGuard::push(std::string_view text) {
    if (!settings_.enabled) return std::string(text);
    if (stopped_ || finished_) return {};
    received_.append(text);
    return advance(false);
}

std::string ResponseGuard::finish() {
    if (!settings_.enabled || stopped_ || finished_) return {};
    std::string rest = advance(true);
    finished_ = true;
    return rest;
}

std::string ResponseGuard::advance(bool complete) {
    Guarded guarded = guard(pipeline_->feed(received_, complete), settings_, complete);
    stopped_ = guarded.cut;
    tally_ = guarded.tally;
    // What was returned before is a prefix of this (each step only decides what no continuation changes).
    std::string fresh = guarded.text.size() > sent_ ? guarded.text.substr(sent_) : std::string();
    sent_ = std::max(sent_, guarded.text.size());
    return fresh;
}

std::string guard_reply(std::string_view reply, const GuardSettings& settings, GuardTally* tally) {
    if (!settings.enabled) return std::string(reply);
    guard_detail::CleaningPipeline pipeline(settings);
    Guarded guarded = guard(pipeline.feed(reply, true), settings, true);
    if (tally) *tally += guarded.tally;
    return std::move(guarded.text);
}

}  // namespace mimir
