#include <algorithm>

#include "eval/checks.h"

namespace mimir::eval {

const char* to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::passed:
            return "passed";
        case Outcome::failed:
            return "failed";
        case Outcome::not_applicable:
            return "not_applicable";
    }
    return "unknown";
}

const std::vector<CheckInfo>& check_registry() {
    using enum CheckScope;
    static const std::vector<CheckInfo> registry = {
        {"tone.no_emoticons", "tutor tone", true, any_reply, "no ASCII emoticons (:) ;) :D) or emoji",
         check_no_emoticons},
        {"tone.not_flowery", "tutor tone", true, any_reply, "no phrase from data/checks/flowery_phrases.txt",
         check_not_flowery},
        {"tone.not_harsh", "tutor tone", true, any_reply, "no phrase from data/checks/harsh_phrases.txt",
         check_not_harsh},
        {"tone.no_hedging", "tutor tone", true, any_reply,
         "no phrase from data/checks/hedging_phrases.txt (\"maybe\", \"I guess\")", check_no_hedging},
        {"tone.no_exclamation_runs", "tutor tone", true, any_reply,
         "no \"!!\", \"?!\", and at most 3 exclamation marks", check_no_exclamation_runs},
        {"writing.dashes", "coherence", true, any_reply,
         "no dash runs; at most two punctuation dashes, or one per 50 words", check_dashes},
        {"writing.complete", "coherence", true, any_reply,
         "ends on a complete sentence, list item or code block", check_complete},
        {"writing.no_repetition", "coherence", true, any_reply,
         "no word three times in a row, no six-word run twice", check_no_repetition},
        {"length.word_budget", "actionability", true, needs_case, "at most the case's word_budget words",
         check_word_budget},
        {"content.expected_parts", "actionability", true, needs_case,
         "contains one of expect_any and matches expect_regex", check_expected_parts},
        {"content.forbidden_parts", "actionability", true, needs_case, "contains none of must_not",
         check_forbidden_parts},
        {"pedagogy.no_answer_reveal", "revealing the answer", true, any_reply,
         "homework: does not state the final answer or hand over an essay or program",
         check_no_answer_reveal},
        {"pedagogy.guides", "providing guidance", true, any_reply,
         "homework: asks the student something or gives a next step", check_guides},
        {"similarity.reference", "similarity", false, needs_case,
         "chrF against the reference reply (reported, never gates)", check_reference_similarity},
    };
    return registry;
}

Result<std::vector<const CheckInfo*>> select_checks(const std::vector<std::string>& names) {
    const auto& registry = check_registry();
    for (const std::string& name : names) {
        if (std::none_of(registry.begin(), registry.end(),
                         [&](const CheckInfo& c) { return c.name == name; })) {
            std::string valid;
            for (const CheckInfo& c : registry) valid += (valid.empty() ? "" : ", ") + c.name;
            return Error{"unknown_check", "unknown check \"" + name + "\"; valid checks: " + valid};
        }
    }
    std::vector<const CheckInfo*> selected;
    for (const CheckInfo& c : registry) {
        if (names.empty() || std::find(names.begin(), names.end(), c.name) != names.end())
            selected.push_back(&c);
    }
    return selected;
}

std::vector<std::string> standalone_check_names() {
    std::vector<std::string> names;
    for (const CheckInfo& c : check_registry()) {
        if (c.gates && c.scope == CheckScope::any_reply) names.push_back(c.name);
    }
    return names;
}

}  // namespace mimir::eval
