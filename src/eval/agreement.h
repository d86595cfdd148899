// Validating the checks against people: the fine-tuning CSV pairs a reply a person marked bad (Model
// Response) with one a person wrote as good (Ideal Response) for the same prompt. A good check passes the
// ideal replies and catches the bad ones; `mimir eval --check-data` prints how often each does.
//
// The standalone checks run (those needing no per-case expectations). pedagogy.no_answer_reveal and
// pedagogy.guides apply only to rows whose prompt looks_like_homework_request, and reveal-detection uses
// heuristics there since the CSV has no answer key.
#pragma once

#include <string>
#include <vector>

#include "eval/checks.h"
#include "support/result.h"

namespace mimir::eval {

struct CheckAgreement {
    std::string name;
    int fired_on_ideal = 0;                   // failures on Ideal Response (false alarms)
    int fired_on_bad = 0;                     // failures on Model Response (catches)
    std::vector<std::string> ideal_examples;  // "row 5: reason", the first few false alarms
};

struct AgreementReport {
    std::string source;
    int rows = 0;
    int ideal_passing = 0;  // ideal responses passing every check
    int bad_caught = 0;     // bad responses failing at least one
    std::vector<CheckAgreement> checks;
    std::vector<int> bad_missed_rows;  // row numbers of bad responses no check caught
    double ideal_pass_share() const { return rows ? static_cast<double>(ideal_passing) / rows : 0; }
    double bad_caught_share() const { return rows ? static_cast<double>(bad_caught) / rows : 0; }
};

// The goals the checks are tuned to on the committed data set.
inline constexpr double kIdealPassGoal = 0.97;
inline constexpr double kBadCaughtGoal = 0.90;

// Runs the standalone checks (or `check_names`, when not empty) on both columns of the CSV at `csv_path`.
Result<AgreementReport> check_agreement(const std::string& csv_path, const PhraseLists& phrases,
                                        const std::vector<std::string>& check_names = {});

// The report as a table for a terminal: the two shares against their goals, then one line per check.
std::string format_agreement(const AgreementReport& report);

}  // namespace mimir::eval
