// Tutoring-quality checks on one reply. Each check is a small function named after a dimension of tutor
// evaluation (MRBench, "Unifying AI Tutor Evaluation", 2025: revealing the answer, providing guidance,
// actionability, coherence, tutor tone) and returns pass/fail with the offending span as the reason.
// The registry lists them; `mimir eval --checks a,b` picks some by name.
//
// Phrase lists (flowery, harsh, hedging) are data, not code: they are read at run time from a directory
// (data/checks by default, `--phrases DIR` elsewhere) so they can be tuned against the human labels
// without a rebuild; a missing file is an error naming it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/reply_flaws.h"
#include "data/dataset_checks.h"  // count_words, shared with the data set checks
#include "eval/suite.h"
#include "support/result.h"

namespace mimir::eval {

// Lower-case phrases, one per line in <dir>/<name>.txt ('#' starts a comment line).
struct PhraseLists {
    std::vector<std::string> flowery;  // flowery_phrases.txt
    std::vector<std::string> harsh;    // harsh_phrases.txt
    std::vector<std::string> hedging;  // hedging_phrases.txt
};
// Errors: "not_found" / "read_failed" naming the file, "invalid_phrases" for an empty list.
Result<PhraseLists> load_phrase_lists(const std::string& dir);

enum class Outcome { passed, failed, not_applicable };
const char* to_string(Outcome outcome);

struct CheckResult {
    Outcome outcome = Outcome::passed;
    std::string reason;  // the offending span or what is missing; empty when passed
    double score = 0;    // similarity.reference: chrF in [0, 100]; else unused
    bool failed() const { return outcome == Outcome::failed; }
};

struct CheckInput {
    const EvalCase& eval_case;
    std::string_view reply;
    const PhraseLists& phrases;
};

using CheckFunction = CheckResult (*)(const CheckInput&);

// Which checks a run uses: all (a suite with per-case expectations) or the ones that judge any reply on its
// own (style: tone and writing; pedagogy.guides; pedagogy.no_answer_reveal by heuristics).
enum class CheckScope { any_reply, needs_case };

struct CheckInfo {
    std::string name;       // "tone.no_emoticons"
    std::string dimension;  // "tutor tone", "coherence", "revealing the answer", ...
    bool gates = true;      // a failure fails the case; false = reported only (similarity)
    CheckScope scope = CheckScope::any_reply;
    std::string description;
    CheckFunction run = nullptr;
};

// Every check, in report order.
const std::vector<CheckInfo>& check_registry();
// The named checks, in registry order; an unknown name is "unknown_check" listing the valid names.
Result<std::vector<const CheckInfo*>> select_checks(const std::vector<std::string>& names);
// The gating checks that need nothing from the case (what --check-data and --suite-from-csv use).
std::vector<std::string> standalone_check_names();

// The checks themselves (also reachable through the registry), for tests.
CheckResult check_no_emoticons(const CheckInput& in);
CheckResult check_not_flowery(const CheckInput& in);
CheckResult check_not_harsh(const CheckInput& in);
CheckResult check_no_hedging(const CheckInput& in);
CheckResult check_no_exclamation_runs(const CheckInput& in);
CheckResult check_dashes(const CheckInput& in);
CheckResult check_complete(const CheckInput& in);
CheckResult check_no_repetition(const CheckInput& in);
CheckResult check_word_budget(const CheckInput& in);
CheckResult check_expected_parts(const CheckInput& in);
CheckResult check_forbidden_parts(const CheckInput& in);
CheckResult check_no_answer_reveal(const CheckInput& in);
CheckResult check_guides(const CheckInput& in);
CheckResult check_reference_similarity(const CheckInput& in);

// Whether a student's message asks for homework to be done for them (the answer to an exercise, an essay,
// a program): how cases made from the CSV, which carry no `homework` flag, get one.
bool looks_like_homework_request(std::string_view prompt);

// Shared text helpers.
// `text` without trailing whitespace, emoji and ASCII emoticons (tone checks judge those).
std::string_view trim_trailing_decoration(std::string_view text);
std::string to_lower_ascii(std::string_view text);
// `text` around [begin, end) for a reason, at most ~60 characters, cut on UTF-8 boundaries.
std::string excerpt(std::string_view text, size_t begin, size_t end);
// `text` with fenced (```) and inline (`) code replaced by spaces, so prose checks skip code; offsets kept.
std::string without_code(std::string_view text);

}  // namespace mimir::eval
