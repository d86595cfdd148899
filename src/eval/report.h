// The reports of an evaluation run: a terminal table (tiers side by side), report.json, report.md,
// report.html (self-contained, with an SVG chart and every case's replies side by side) and junit.xml
// (one testcase per case per tier). All are deterministic functions of the EvalReport.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/runner.h"
#include "support/result.h"

namespace mimir::eval {

std::string format_table(const EvalReport& report);
nlohmann::json report_to_json(const EvalReport& report);
std::string report_markdown(const EvalReport& report);
std::string report_html(const EvalReport& report);
std::string report_junit(const EvalReport& report);

// Writes report.json, report.md, report.html and junit.xml into `dir` (created when missing).
// Each file is written atomically. Errors: "bad_output_dir", "write_failed", naming the folder or file.
Status write_reports(const EvalReport& report, const std::string& dir);

// The tiers whose accuracy is below `min_accuracy`: only `tier_name` when set (an unknown name is
// "unknown_tier"), else every tier.
Result<std::vector<std::string>> tiers_below(const EvalReport& report, double min_accuracy,
                                             const std::string& tier_name = "");

// "&lt;" etc. for text and attribute values in HTML and XML.
std::string escape_markup(std::string_view text);

}  // namespace mimir::eval
