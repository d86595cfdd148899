#include "promote/gate.h"

#include <map>
#include <sstream>

#include "eval/checks.h"
#include "eval/statistics.h"

namespace mimir::promote {

namespace {

constexpr const char* kWholeCase = "all gating checks";

enum class Verdict { NotApplicable, Passed, Failed };

// A check's verdict on a case over every sample: failed when it failed in one, passed when it applied.
Verdict check_verdict(const eval::CaseResult& result, size_t check_index) {
    Verdict verdict = Verdict::NotApplicable;
    for (const eval::SampleResult& sample : result.samples) {
        if (!sample.error.empty()) return Verdict::Failed;
        if (check_index >= sample.checks.size()) continue;
        const eval::Outcome outcome = sample.checks[check_index].outcome;
        if (outcome == eval::Outcome::failed) return Verdict::Failed;
        if (outcome == eval::Outcome::passed) verdict = Verdict::Passed;
    }
    return verdict;
}

bool gates(const std::string& check) {
    for (const eval::CheckInfo& info : eval::check_registry()) {
        if (info.name == check) return info.gates;
    }
    return false;
}

CheckComparison compare(const std::string& name, const std::vector<std::pair<Verdict, Verdict>>& verdicts,
                        double significance) {
    CheckComparison comparison{.check = name};
    for (const auto& [candidate, current] : verdicts) {
        if (candidate == Verdict::NotApplicable || current == Verdict::NotApplicable) continue;
        if (candidate == Verdict::Passed && current == Verdict::Failed) ++comparison.only_candidate;
        if (candidate == Verdict::Failed && current == Verdict::Passed) ++comparison.only_current;
    }
    comparison.p_value = eval::mcnemar_exact_p(comparison.only_candidate, comparison.only_current);
    comparison.candidate_worse =
        comparison.only_current > comparison.only_candidate && comparison.p_value < significance;
    return comparison;
}

std::vector<CheckComparison> compare_tiers(const eval::EvalReport& report, const eval::TierResult& candidate,
                                           const eval::TierResult& current, double significance) {
    const size_t cases = std::min(candidate.cases.size(), current.cases.size());
    std::vector<CheckComparison> comparisons;
    std::vector<std::pair<Verdict, Verdict>> whole;
    for (size_t c = 0; c < cases; ++c) {
        const auto verdict = [](bool passed) { return passed ? Verdict::Passed : Verdict::Failed; };
        whole.emplace_back(verdict(candidate.cases[c].passed), verdict(current.cases[c].passed));
    }
    for (size_t k = 0; k < report.check_names.size(); ++k) {
        if (!gates(report.check_names[k])) continue;
        std::vector<std::pair<Verdict, Verdict>> verdicts;
        for (size_t c = 0; c < cases; ++c)
            verdicts.emplace_back(check_verdict(candidate.cases[c], k), check_verdict(current.cases[c], k));
        comparisons.push_back(compare(report.check_names[k], verdicts, significance));
    }
    comparisons.push_back(compare(kWholeCase, whole, significance));
    return comparisons;
}

std::string fixed3(double value) {
    std::ostringstream out;
    out.precision(3);
    out << std::fixed << value;
    return out.str();
}

}  // namespace

GateDecision decide_promotion(const eval::EvalReport& report, size_t candidate_index,
                              std::optional<size_t> current_index, const GateOptions& options) {
    GateDecision decision;
    decision.cases = report.completed;
    const eval::TierResult& candidate = report.tiers.at(candidate_index);
    decision.candidate_accuracy = candidate.accuracy(report.completed);
    if (!candidate.error.empty()) {
        decision.reason = "the candidate could not be evaluated: " + candidate.error;
        return decision;
    }
    if (report.completed == 0) {
        decision.reason = "the evaluation answered no case";
        return decision;
    }
    std::string note;
    if (current_index) {
        const eval::TierResult& current = report.tiers.at(*current_index);
        if (current.error.empty()) {
            decision.current_accuracy = current.accuracy(report.completed);
            decision.comparisons = compare_tiers(report, candidate, current, options.significance);
        } else {
            note = " (the current generation could not be evaluated: " + current.error + ")";
        }
    }
    if (decision.candidate_accuracy < options.min_accuracy) {
        decision.reason = "accuracy " + fixed3(decision.candidate_accuracy) + " is below the minimum " +
                          fixed3(options.min_accuracy) + note;
        return decision;
    }
    std::ostringstream worse;
    for (const CheckComparison& c : decision.comparisons) {
        if (!c.candidate_worse) continue;
        worse << (worse.tellp() > 0 ? "; " : "") << c.check << " (" << c.only_current
              << " cases only the current passes, " << c.only_candidate
              << " only the candidate, McNemar p = " << c.p_value << ")";
    }
    if (worse.tellp() > 0) {
        std::ostringstream reason;
        reason << "worse than the current generation beyond noise (p < " << options.significance << ") on "
               << worse.str();
        decision.reason = reason.str();
        return decision;
    }
    decision.promote = true;
    decision.reason = "accuracy " + fixed3(decision.candidate_accuracy) +
                      " >= " + fixed3(options.min_accuracy) +
                      (decision.current_accuracy ? " (current " + fixed3(*decision.current_accuracy) +
                                                       "), not worse on any gating check beyond noise"
                                                 : ", no current generation to compare" + note);
    return decision;
}

nlohmann::json GateDecision::summary(const GateOptions& options) const {
    nlohmann::json json = {{"cases", cases},
                           {"candidate_accuracy", candidate_accuracy},
                           {"min_accuracy", options.min_accuracy},
                           {"significance", options.significance}};
    if (current_accuracy) json["current_accuracy"] = *current_accuracy;
    json["comparisons"] = nlohmann::json::array();
    for (const CheckComparison& c : comparisons) {
        json["comparisons"].push_back({{"check", c.check},
                                       {"only_candidate", c.only_candidate},
                                       {"only_current", c.only_current},
                                       {"p_value", c.p_value},
                                       {"candidate_worse", c.candidate_worse}});
    }
    return json;
}

}  // namespace mimir::promote
