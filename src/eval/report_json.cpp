// report.json and junit.xml.
#include <spdlog/fmt/fmt.h>

#include "eval/report.h"

namespace mimir::eval {

namespace {

using nlohmann::json;

json tally_json(const std::map<std::string, CheckTally>& tallies) {
    json out = json::object();
    for (const auto& [name, tally] : tallies) {
        out[name] = {
            {"applicable", tally.applicable},
            {"passed", tally.passed},
            {"pass_rate", tally.applicable ? static_cast<double>(tally.passed) / tally.applicable : 0.0}};
    }
    return out;
}

json case_json(const EvalReport& report, const CaseResult& result, size_t index) {
    json samples = json::array();
    for (const SampleResult& sample : result.samples) {
        json checks = json::object();
        for (size_t i = 0; i < report.check_names.size(); ++i) {
            const CheckResult& check = sample.checks[i];
            if (check.outcome == Outcome::not_applicable) continue;
            json entry = {{"outcome", to_string(check.outcome)}, {"reason", check.reason}};
            if (report.check_names[i] == "similarity.reference") entry["score"] = check.score;
            checks[report.check_names[i]] = entry;
        }
        json entry = {{"reply", sample.reply}, {"checks", checks}};
        if (!sample.error.empty()) entry["error"] = sample.error;
        samples.push_back(entry);
    }
    json out = {{"id", report.cases[index].id},
                {"category", report.cases[index].category},
                {"passed", result.passed},
                {"failing_checks", result.failing_checks},
                {"samples", samples}};
    if (result.similarity >= 0) out["similarity"] = result.similarity;
    return out;
}

}  // namespace

json report_to_json(const EvalReport& report) {
    json tiers = json::array();
    for (const TierResult& tier : report.tiers) {
        json cases = json::array();
        for (size_t i = 0; i < tier.cases.size(); ++i) cases.push_back(case_json(report, tier.cases[i], i));
        json entry = {{"name", tier.name},
                      {"accuracy", tier.accuracy(report.completed)},
                      {"passed", tier.passed},
                      {"answered", tier.answered},
                      {"interval", {{"low", tier.interval.low}, {"high", tier.interval.high}}},
                      {"by_check", tally_json(tier.by_check)},
                      {"by_category", tally_json(tier.by_category)},
                      {"cases", cases}};
        if (tier.mean_similarity() >= 0) entry["mean_similarity"] = tier.mean_similarity();
        if (!tier.error.empty()) entry["error"] = tier.error;
        tiers.push_back(entry);
    }
    json comparisons = json::array();
    for (const Comparison& c : report.comparisons) {
        comparisons.push_back({{"first", c.first},
                               {"second", c.second},
                               {"only_first", c.only_first},
                               {"only_second", c.only_second},
                               {"mcnemar_p", c.p_value}});
    }
    return {{"suite", report.suite_source}, {"seed", report.seed},
            {"samples", report.samples},    {"partial", report.partial},
            {"cases", report.cases.size()}, {"completed", report.completed},
            {"checks", report.check_names}, {"tiers", tiers},
            {"comparisons", comparisons}};
}

std::string report_junit(const EvalReport& report) {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
    for (const TierResult& tier : report.tiers) {
        out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">\n",
                           escape_markup(tier.name), report.completed, report.completed - tier.passed);
        for (int i = 0; i < report.completed; ++i) {
            const EvalCase& c = report.cases[i];
            out += fmt::format("    <testcase classname=\"{}.{}\" name=\"{}\">", escape_markup(tier.name),
                               escape_markup(c.category), escape_markup(c.id));
            if (i >= static_cast<int>(tier.cases.size())) {
                out += "<failure message=\"not answered\">" + escape_markup(tier.error) + "</failure>";
            } else if (!tier.cases[i].passed) {
                std::string details;
                for (const SampleResult& sample : tier.cases[i].samples) {
                    if (!sample.error.empty()) details += "error: " + sample.error + "\n";
                    for (size_t k = 0; k < report.check_names.size(); ++k) {
                        if (sample.checks[k].failed())
                            details += report.check_names[k] + ": " + sample.checks[k].reason + "\n";
                    }
                }
                std::string checks;
                for (const std::string& name : tier.cases[i].failing_checks)
                    checks += (checks.empty() ? "" : ", ") + name;
                out += "<failure message=\"" + escape_markup(checks.empty() ? "reply error" : checks) +
                       "\">" + escape_markup(details) + "</failure>";
            }
            out += "</testcase>\n";
        }
        out += "  </testsuite>\n";
    }
    return out + "</testsuites>\n";
}

}  // namespace mimir::eval
