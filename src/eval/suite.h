// The evaluation suite: the cases `mimir eval` asks each tier, read from JSON Lines (one object per line)
// or made from the fine-tuning CSV. A case says what a good reply must and must not contain; the checks in
// eval/checks.h read these fields.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/engine.h"
#include "support/result.h"

namespace mimir::eval {

// One suite line. Fields (JSON names): id, category, prompt (required), history (earlier turns
// [{"role","content"}]), expect_any (the reply contains at least one, case-insensitive), expect_regex (RE2,
// case-insensitive), must_not (phrases), word_budget, homework, answer (the final answer a homework reply
// must not hand over), reference (an ideal reply, for chrF).
struct EvalCase {
    std::string id;
    int line = 0;  // the suite file's line it was read from, for messages; 0 for cases made from the CSV
    std::string category;
    std::string prompt;
    std::vector<ChatMessage> history;
    std::vector<std::string> expect_any;
    std::string expect_regex;
    std::vector<std::string> must_not;
    std::optional<int> word_budget;
    bool homework = false;
    std::string answer;
    std::string reference;
    // The checks to run; empty = all registered ones. Cases made from the CSV carry the style and pedagogy
    // checks only, since they have no per-case expectations.
    std::vector<std::string> checks;

    // history + the prompt as the last user turn.
    std::vector<ChatMessage> conversation() const;
};

struct Suite {
    std::string source;  // the file it came from
    std::vector<EvalCase> cases;
};

// Parses JSON Lines. Blank lines and lines starting with '#' are skipped. Errors name the line:
// "invalid_suite" for malformed JSON, a missing/empty prompt, a field of the wrong type, an unknown field,
// an invalid regex, a duplicate id, or an empty suite. A case without id gets "line-N".
Result<Suite> parse_suite(const std::string& text, const std::string& source);
// Reads and parses `path` ("not_found" / "read_failed" name it).
Result<Suite> read_suite(const std::string& path);

// One case per usable CSV row (id "row-N", category from a "Category" column when present, else
// "general"; the ideal response is the reference, `homework` from looks_like_homework_request), checked by
// the standalone style and pedagogy checks, plus similarity.reference (reported only).
Result<Suite> suite_from_csv(const std::string& csv_path);

}  // namespace mimir::eval
