// The terminal table, report.md, the threshold and writing the files.
#include <spdlog/fmt/fmt.h>

#include "eval/report.h"
#include "support/files.h"

namespace mimir::eval {

namespace {

std::string rate(const CheckTally& tally) {
    if (tally.applicable == 0) return "-";
    return fmt::format("{:.3f} ({})", static_cast<double>(tally.passed) / tally.applicable, tally.applicable);
}

std::vector<std::string> categories(const EvalReport& report) {
    std::vector<std::string> names;
    for (int i = 0; i < report.completed; ++i) {
        if (std::find(names.begin(), names.end(), report.cases[i].category) == names.end())
            names.push_back(report.cases[i].category);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Rows of (label, one cell per tier), shared by the terminal table and the Markdown table.
std::vector<std::vector<std::string>> table_rows(const EvalReport& report) {
    std::vector<std::vector<std::string>> rows;
    auto row = [&](std::string label, auto cell) {
        std::vector<std::string> cells{std::move(label)};
        for (const TierResult& tier : report.tiers) cells.push_back(cell(tier));
        rows.push_back(std::move(cells));
    };
    row("tier", [](const TierResult& t) { return t.name; });
    row("accuracy", [&](const TierResult& t) {
        return fmt::format("{:.3f} ({}/{})", t.accuracy(report.completed), t.passed, report.completed);
    });
    row("95% interval",
        [](const TierResult& t) { return fmt::format("[{:.3f}, {:.3f}]", t.interval.low, t.interval.high); });
    for (const std::string& name : report.check_names) {
        if (!(*select_checks({name}))[0]->gates) continue;  // similarity has its own row (mean chrF)
        row(name, [&](const TierResult& t) {
            auto found = t.by_check.find(name);
            return found == t.by_check.end() ? std::string("-") : rate(found->second);
        });
    }
    for (const std::string& category : categories(report)) {
        row("category " + category, [&](const TierResult& t) {
            auto found = t.by_category.find(category);
            return found == t.by_category.end() ? std::string("-") : rate(found->second);
        });
    }
    row("chrF vs reference", [](const TierResult& t) {
        const double similarity = t.mean_similarity();
        return similarity < 0 ? std::string("-") : fmt::format("{:.1f}", similarity);
    });
    row("error", [](const TierResult& t) { return t.error.empty() ? std::string("-") : t.error; });
    return rows;
}

std::string header_line(const EvalReport& report) {
    std::string line = fmt::format("{}: {} cases x {} samples, seed {}", report.suite_source,
                                   report.cases.size(), report.samples, report.seed);
    if (report.partial) line += fmt::format(" (PARTIAL: stopped after {} cases)", report.completed);
    return line;
}

}  // namespace

std::string format_table(const EvalReport& report) {
    const auto rows = table_rows(report);
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto& cells : rows) {
        for (size_t i = 0; i < cells.size(); ++i)
            widths[i] = std::max(widths[i], std::min<size_t>(cells[i].size(), 60));
    }
    std::string out = header_line(report) + "\n";
    for (const auto& cells : rows) {
        for (size_t i = 0; i < cells.size(); ++i)
            out += fmt::format("{:<{}}  ", cells[i].substr(0, 60), widths[i]);
        while (out.back() == ' ') out.pop_back();
        out += "\n";
    }
    for (const Comparison& c : report.comparisons) {
        out += fmt::format("{} vs {}: only {} passes {}, only {} passes {}, exact McNemar p = {:.4f}\n",
                           c.first, c.second, c.first, c.only_first, c.second, c.only_second, c.p_value);
    }
    return out;
}

std::string report_markdown(const EvalReport& report) {
    auto cell = [](std::string text) {
        std::string out;
        for (char c : text)
            out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
        return out;
    };
    const auto rows = table_rows(report);
    std::string out = "# Mimir evaluation\n\n" + header_line(report) + "\n\n";
    for (size_t r = 0; r < rows.size(); ++r) {
        out += "|";
        for (const std::string& text : rows[r]) {
            out += ' ';
            out += cell(text);
            out += " |";
        }
        out += "\n";
        if (r == 0) {
            out += "|";
            for (size_t i = 0; i < rows[r].size(); ++i) out += " --- |";
            out += "\n";
        }
    }
    if (!report.comparisons.empty()) out += "\n## Comparisons (exact McNemar)\n\n";
    for (const Comparison& c : report.comparisons) {
        out += fmt::format("- {} vs {}: only {} passes {}, only {} passes {}, p = {:.4f}\n", c.first,
                           c.second, c.first, c.only_first, c.second, c.only_second, c.p_value);
    }
    out += "\n## Failing cases\n\n";
    for (const TierResult& tier : report.tiers) {
        for (size_t i = 0; i < tier.cases.size(); ++i) {
            if (tier.cases[i].passed) continue;
            std::string checks;
            for (const std::string& name : tier.cases[i].failing_checks)
                checks += (checks.empty() ? "" : ", ") + name;
            if (checks.empty()) checks = "no reply";
            out += fmt::format("- {} / {}: {}\n", cell(tier.name), cell(report.cases[i].id), checks);
        }
    }
    return out;
}

std::string escape_markup(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

Result<std::vector<std::string>> tiers_below(const EvalReport& report, double min_accuracy,
                                             const std::string& tier_name) {
    std::vector<std::string> below;
    bool found = tier_name.empty();
    for (const TierResult& tier : report.tiers) {
        if (!tier_name.empty() && tier.name != tier_name) continue;
        found = true;
        if (tier.accuracy(report.completed) < min_accuracy) below.push_back(tier.name);
    }
    if (!found) return Error{"unknown_tier", "no tier named \"" + tier_name + "\" in this run"};
    return below;
}

Status write_reports(const EvalReport& report, const std::string& dir) {
    if (Status ready = prepare_output_dir(dir); !ready) return ready;
    const std::pair<const char*, std::string> files[] = {
        {"report.json", report_to_json(report).dump(2) + "\n"},
        {"report.md", report_markdown(report)},
        {"report.html", report_html(report)},
        {"junit.xml", report_junit(report)}};
    for (const auto& [name, text] : files) {
        if (Status written = write_text_atomically(dir + "/" + name, text); !written) return written;
    }
    return ok_status();
}

}  // namespace mimir::eval
