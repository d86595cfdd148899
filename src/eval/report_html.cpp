// report.html: one self-contained page (inline CSS, inline SVG, no scripts). Every text from a suite, a
// model or a server goes through escape_markup.
#include <spdlog/fmt/fmt.h>

#include "eval/report.h"

namespace mimir::eval {

namespace {

const char* kStyle = R"(body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
pre{white-space:pre-wrap;margin:0 0 6px;font:13px/1.35 ui-monospace,monospace;max-width:60ch}
.pass{color:#186a2e}.fail{color:#b3261e;font-weight:600}.partial{background:#fff3cd;padding:6px 10px}
.reason{display:block;background:#fde8e6;color:#b3261e;margin:2px 0;padding:2px 4px;font-size:12px}
.prompt{max-width:40ch}svg text{font:12px system-ui,sans-serif})";

const char* kColors[] = {"#3b6fb6", "#e08a2c", "#4c9a52", "#a2529a", "#8c7a3c", "#3ca0a0"};

// Grouped horizontal bars: one group per label, one bar per tier, values in [0, 1].
std::string bar_chart(const EvalReport& report, const std::vector<std::string>& labels,
                      const std::vector<std::vector<double>>& values) {
    const int label_width = 220, bar_width = 360, bar_height = 14, group_gap = 8;
    const int tiers = static_cast<int>(report.tiers.size());
    const int group_height = tiers * bar_height + group_gap;
    const int height = static_cast<int>(labels.size()) * group_height + 24 + tiers * 16;
    std::string svg = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">",
                                  label_width + bar_width + 60, height);
    for (size_t g = 0; g < labels.size(); ++g) {
        const int top = static_cast<int>(g) * group_height;
        svg += fmt::format("<text x=\"0\" y=\"{}\">{}</text>", top + bar_height, escape_markup(labels[g]));
        for (int t = 0; t < tiers; ++t) {
            const double value = values[g][t];
            const int y = top + t * bar_height;
            svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>",
                               label_width, y, value * bar_width, bar_height - 2, kColors[t % 6]);
            svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\">{:.2f}</text>",
                               label_width + value * bar_width + 4, y + bar_height - 3, value);
        }
    }
    for (int t = 0; t < tiers; ++t) {
        const int y = static_cast<int>(labels.size()) * group_height + 12 + t * 16;
        svg += fmt::format(
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" "
            "y=\"{}\">{}</text>",
            label_width, y, kColors[t % 6], label_width + 18, y + 11, escape_markup(report.tiers[t].name));
    }
    return svg + "</svg>";
}

std::string charts(const EvalReport& report) {
    std::vector<std::string> labels{"accuracy"};
    std::vector<std::vector<double>> values(1);
    for (const TierResult& tier : report.tiers) values[0].push_back(tier.accuracy(report.completed));
    for (const std::string& name : report.check_names) {
        if (!(*select_checks({name}))[0]->gates) continue;  // chrF is no pass rate
        labels.push_back(name);
        values.emplace_back();
        for (const TierResult& tier : report.tiers) {
            auto found = tier.by_check.find(name);
            const bool any = found != tier.by_check.end() && found->second.applicable > 0;
            values.back().push_back(any ? static_cast<double>(found->second.passed) / found->second.applicable
                                        : 0);
        }
    }
    return bar_chart(report, labels, values);
}

std::string case_cell(const EvalReport& report, const TierResult& tier, size_t index) {
    if (index >= tier.cases.size())
        return "<td class=\"fail\">not answered: " + escape_markup(tier.error) + "</td>";
    const CaseResult& result = tier.cases[index];
    std::string cell =
        result.passed ? "<td><span class=\"pass\">pass</span>" : "<td><span class=\"fail\">fail</span>";
    for (size_t s = 0; s < result.samples.size(); ++s) {
        const SampleResult& sample = result.samples[s];
        cell += fmt::format("<div>sample {}{}</div>", s + 1, s == 0 ? " (greedy)" : "");
        if (!sample.error.empty())
            cell += "<span class=\"reason\">error: " + escape_markup(sample.error) + "</span>";
        cell += "<pre>" + escape_markup(sample.reply) + "</pre>";
        for (size_t k = 0; k < report.check_names.size(); ++k) {
            if (!sample.checks[k].failed()) continue;
            cell += "<span class=\"reason\">" + escape_markup(report.check_names[k]) + ": " +
                    escape_markup(sample.checks[k].reason) + "</span>";
        }
    }
    return cell + "</td>";
}

}  // namespace

std::string report_html(const EvalReport& report) {
    std::string html =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mimir "
        "evaluation</title><style>";
    html += kStyle;
    html += "</style></head><body><h1>Mimir evaluation</h1>";
    html += fmt::format("<p>Suite {}: {} cases, {} samples each, seed {}.</p>",
                        escape_markup(report.suite_source), report.cases.size(), report.samples, report.seed);
    if (report.partial) {
        html += fmt::format("<p class=\"partial\">Partial report: the run was stopped after {} cases.</p>",
                            report.completed);
    }
    html += "<h2>Summary</h2><pre>" + escape_markup(format_table(report)) + "</pre>";
    html += "<h2>Pass rates</h2>" + charts(report);
    html += "<h2>Cases</h2><table><tr><th>case</th>";
    for (const TierResult& tier : report.tiers) html += "<th>" + escape_markup(tier.name) + "</th>";
    html += "</tr>\n";
    for (int i = 0; i < report.completed; ++i) {
        const EvalCase& c = report.cases[i];
        html += "<tr><td class=\"prompt\"><b>" + escape_markup(c.id) + "</b> (" + escape_markup(c.category) +
                ")<pre>" + escape_markup(c.prompt) + "</pre></td>";
        for (const TierResult& tier : report.tiers) html += case_cell(report, tier, i);
        html += "</tr>\n";
    }
    return html + "</table></body></html>\n";
}

}  // namespace mimir::eval
