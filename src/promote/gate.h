// The promotion gate: whether a candidate may replace the current generation, decided from one evaluation
// in which both answered the same cases (paired). The rule, as `mimir promote --help` states it:
//   - the candidate's accuracy (cases passing every gating check in every sample) must reach min_accuracy;
//   - with a current generation, for every gating check (and for the case as a whole) the cases only the
//     current passes are counted against the cases only the candidate passes; when the current wins more
//     and the exact McNemar test gives p < significance, the candidate is worse beyond noise: refused.
// With no current generation (the first promotion, or a current that cannot be evaluated) only the
// accuracy gates.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/runner.h"

namespace mimir::promote {

struct GateOptions {
    double min_accuracy = 0.95;
    double significance = 0.05;
};

// One check compared between the two tiers on the cases where it applied to both.
struct CheckComparison {
    std::string check;  // a gating check's name, or "all gating checks" for the case verdict
    int only_candidate = 0;
    int only_current = 0;
    double p_value = 1;
    bool candidate_worse = false;
};

struct GateDecision {
    bool promote = false;
    std::string reason;
    int cases = 0;
    double candidate_accuracy = 0;
    std::optional<double> current_accuracy;  // empty: no current tier was compared
    std::vector<CheckComparison> comparisons;

    // For the promotion record: accuracies, cases, the worse checks and every comparison.
    nlohmann::json summary(const GateOptions& options) const;
};

// `candidate` and `current` index report.tiers; `current` empty when there is no current generation. A
// current tier that stopped with an error is left out (its reason goes into the decision's reason); a
// candidate that did is refused.
GateDecision decide_promotion(const eval::EvalReport& report, size_t candidate, std::optional<size_t> current,
                              const GateOptions& options);

}  // namespace mimir::promote
