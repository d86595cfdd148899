#include "eval/agreement.h"

#include <spdlog/fmt/fmt.h>

#include "data/fine_tuning_data.h"

namespace mimir::eval {

Result<AgreementReport> check_agreement(const std::string& csv_path, const PhraseLists& phrases,
                                        const std::vector<std::string>& check_names) {
    auto checks = select_checks(check_names.empty() ? standalone_check_names() : check_names);
    if (!checks) return checks.error();
    auto data = read_fine_tuning_csv(csv_path);
    if (!data) return data.error();
    AgreementReport report{.source = csv_path};
    for (const CheckInfo* check : *checks) report.checks.push_back({.name = check->name});
    const size_t max_examples = 5;
    for (const FineTuningRow& row : data->rows) {
        if (row.model_response.empty()) continue;
        const EvalCase eval_case{.prompt = row.prompt, .homework = looks_like_homework_request(row.prompt)};
        bool ideal_failed = false, bad_failed = false;
        for (size_t i = 0; i < checks->size(); ++i) {
            const CheckInfo& check = *(*checks)[i];
            if (!check.gates) continue;
            const CheckResult ideal = check.run({eval_case, row.ideal_response, phrases});
            const CheckResult bad = check.run({eval_case, row.model_response, phrases});
            CheckAgreement& counts = report.checks[i];
            if (ideal.failed()) {
                ++counts.fired_on_ideal;
                ideal_failed = true;
                if (counts.ideal_examples.size() < max_examples) {
                    counts.ideal_examples.push_back("row " + std::to_string(row.row_number) + ": " +
                                                    ideal.reason);
                }
            }
            if (bad.failed()) {
                ++counts.fired_on_bad;
                bad_failed = true;
            }
        }
        ++report.rows;
        report.ideal_passing += ideal_failed ? 0 : 1;
        report.bad_caught += bad_failed ? 1 : 0;
        if (!bad_failed) report.bad_missed_rows.push_back(row.row_number);
    }
    if (report.rows == 0)
        return Error{"no_rows", csv_path + ": no row has both a model response and an ideal response"};
    return report;
}

std::string format_agreement(const AgreementReport& report) {
    auto verdict = [](bool met) { return met ? "goal met" : "BELOW GOAL"; };
    std::string out =
        fmt::format("Checks against the human labels in {} ({} rows)\n", report.source, report.rows);
    out += fmt::format("  ideal responses passing every check: {}/{} = {:.3f} (goal >= {:.2f}, {})\n",
                       report.ideal_passing, report.rows, report.ideal_pass_share(), kIdealPassGoal,
                       verdict(report.ideal_pass_share() >= kIdealPassGoal));
    out += fmt::format("  bad responses failing at least one:  {}/{} = {:.3f} (goal >= {:.2f}, {})\n",
                       report.bad_caught, report.rows, report.bad_caught_share(), kBadCaughtGoal,
                       verdict(report.bad_caught_share() >= kBadCaughtGoal));
    out += fmt::format("\n  {:<28} {:>14} {:>14}\n", "check", "fires on ideal", "fires on bad");
    for (const CheckAgreement& check : report.checks) {
        out += fmt::format("  {:<28} {:>14} {:>14}\n", check.name, check.fired_on_ideal, check.fired_on_bad);
        for (const std::string& example : check.ideal_examples) out += "      ideal " + example + "\n";
    }
    if (!report.bad_missed_rows.empty()) {
        out += "\n  bad responses no check caught: rows";
        for (int row : report.bad_missed_rows) out += fmt::format(" {}", row);
        out += "\n";
    }
    return out;
}

}  // namespace mimir::eval
