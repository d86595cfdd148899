// The pedagogy checks (revealing the answer, providing guidance) and the per-case content checks
// (expected and forbidden parts, word budget, closeness to the reference).
#include <re2/re2.h>

#include "eval/checks.h"
#include "eval/statistics.h"

namespace mimir::eval {

namespace {

// Where `pattern` (case-insensitive) first matches `text`, as a failure reason; passed when it does not.
CheckResult fail_on_match(std::string_view text, const RE2& pattern, const std::string& what) {
    re2::StringPiece found;
    if (!RE2::PartialMatch(text, pattern, &found)) return {};
    const size_t at = found.data() - text.data();
    return {Outcome::failed, what + " \"" + excerpt(text, at, at + found.size()) + "\""};
}

bool contains_phrase(const std::string& lower_text, const std::string& phrase) {
    return lower_text.find(to_lower_ascii(phrase)) != std::string::npos;
}

CheckResult reveals_known_answer(std::string_view reply, const std::string& answer) {
    // The answer stated as the answer: after "=", "is", "equals", "answer:" ... and closing its sentence.
    const std::string quoted = RE2::QuoteMeta(to_lower_ascii(answer));
    const RE2 stated("(?i)((?:=|\\bis|\\bequals|\\bare|\\bget|\\bgives|answer:)\\s*\\**" + quoted +
                     "\\**\\s*(?:$|[.!;\\n]|,\\s*(?:so|which|and)\\b))");
    return fail_on_match(reply, stated, "states the answer");
}

}  // namespace

bool looks_like_homework_request(std::string_view prompt) {
    static const RE2 request(
        R"((?i)\b(?:(?:give|tell|show) me the (?:answer|solution)s?|(?:just|only) (?:the )?(?:answer|solution)|)"
        R"(what(?:'s| is) the (?:answer|solution)|answers? (?:to|for)|solve (?:this|it|for|the)|do my|)"
        R"(write (?:my|an|the|a) (?:essay|paper|report|program|code|function|script)|homework|assignment|worksheet)\b)");
    // An equation with an unknown ("2x - 7 = 9", "x^2 - 5x + 6 = 0") is an exercise, however it is asked.
    static const RE2 unknown(R"((?i)(?:\d[a-z]\b|\b[a-z]\^\d|\b[a-z]\s*[-+*/]\s*\d))");
    const bool equation = prompt.find('=') != std::string_view::npos && RE2::PartialMatch(prompt, unknown);
    return equation || RE2::PartialMatch(prompt, request);
}

CheckResult check_no_answer_reveal(const CheckInput& in) {
    if (!in.eval_case.homework) return {Outcome::not_applicable, ""};
    const std::string prose = without_code(in.reply);
    if (!in.eval_case.answer.empty()) {
        if (CheckResult known = reveals_known_answer(prose, in.eval_case.answer); known.failed())
            return known;
    } else {
        static const RE2 announced(
            R"((?i)((?:the|your|final) (?:final )?(?:answer|solution) (?:is|would be|=)\s*\S+|\banswer:\s*\S+))");
        if (CheckResult found = fail_on_match(prose, announced, "states the answer"); found.failed())
            return found;
        static const RE2 solved(
            R"((?i)((?:^|[^\w^])[a-z]\s*=\s*-?\d+(?:[.,/]\d+)?)\s*(?:$|[.!;\n]|,|\band\b))");
        if (CheckResult found = fail_on_match(prose, solved, "states the solution"); found.failed())
            return found;
    }
    // A finished essay (many paragraphs) or program (a long code block) handed over.
    int breaks = 0;
    for (size_t at = prose.find("\n\n"); at != std::string::npos; at = prose.find("\n\n", at + 2)) ++breaks;
    const int essay_paragraphs = 4, essay_words = 250;
    if (breaks + 1 >= essay_paragraphs && count_words(prose) >= essay_words) {
        return {Outcome::failed, "a complete essay (" + std::to_string(breaks + 1) + " paragraphs)"};
    }
    const int program_lines = 12;
    for (size_t open = in.reply.find("```"); open != std::string_view::npos;) {
        const size_t close = in.reply.find("```", open + 3);
        const std::string_view block =
            in.reply.substr(open, close == std::string_view::npos ? std::string_view::npos : close - open);
        const auto lines = std::count(block.begin(), block.end(), '\n');
        if (lines >= program_lines)
            return {Outcome::failed, "a complete program (" + std::to_string(lines) + " lines of code)"};
        if (close == std::string_view::npos) break;
        open = in.reply.find("```", close + 3);
    }
    return {};
}

CheckResult check_guides(const CheckInput& in) {
    if (!in.eval_case.homework) return {Outcome::not_applicable, ""};
    const std::string prose = without_code(in.reply);
    static const RE2 next_step(
        R"((?i)(\?|\b(?:first|next|then),|\b(?:try|start by|start with|begin by|begin with|let's|let us|step 1|hint|)"
        R"(your turn|see if you can|can you|could you|what do you|would you like|tell me|pick|think about|write down|)"
        R"(look at|share)\b))");
    if (RE2::PartialMatch(prose, next_step)) return {};
    return {Outcome::failed, "no question or next step for the student"};
}

CheckResult check_word_budget(const CheckInput& in) {
    if (!in.eval_case.word_budget) return {Outcome::not_applicable, ""};
    const int words = count_words(in.reply);
    if (words <= *in.eval_case.word_budget) return {};
    return {Outcome::failed,
            std::to_string(words) + " words (budget " + std::to_string(*in.eval_case.word_budget) + ")"};
}

CheckResult check_expected_parts(const CheckInput& in) {
    const EvalCase& c = in.eval_case;
    if (c.expect_any.empty() && c.expect_regex.empty()) return {Outcome::not_applicable, ""};
    const std::string lower = to_lower_ascii(in.reply);
    if (!c.expect_any.empty() &&
        std::none_of(c.expect_any.begin(), c.expect_any.end(),
                     [&](const std::string& p) { return contains_phrase(lower, p); })) {
        return {Outcome::failed, "none of the expected phrases (\"" + c.expect_any.front() + "\", ...)"};
    }
    if (!c.expect_regex.empty()) {
        const RE2 pattern("(?i)" + c.expect_regex);  // validated when the suite was read
        if (!RE2::PartialMatch(in.reply, pattern))
            return {Outcome::failed, "no match for /" + c.expect_regex + "/"};
    }
    return {};
}

CheckResult check_forbidden_parts(const CheckInput& in) {
    if (in.eval_case.must_not.empty()) return {Outcome::not_applicable, ""};
    const std::string lower = to_lower_ascii(in.reply);
    for (const std::string& phrase : in.eval_case.must_not) {
        const size_t at = lower.find(to_lower_ascii(phrase));
        if (at != std::string::npos)
            return {Outcome::failed, "forbidden \"" + excerpt(in.reply, at, at + phrase.size()) + "\""};
    }
    return {};
}

CheckResult check_reference_similarity(const CheckInput& in) {
    if (in.eval_case.reference.empty()) return {Outcome::not_applicable, ""};
    return {Outcome::passed, "", chrf(in.reply, in.eval_case.reference)};
}

}  // namespace mimir::eval
