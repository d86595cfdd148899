#include "promote/promotion_log.h"

#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <system_error>

#include "support/files.h"

namespace mimir::promote {

namespace {

template <typename Enum, size_t N>
std::optional<Enum> parse_enum(const std::string& text, const std::pair<Enum, const char*> (&names)[N]) {
    for (const auto& [value, name] : names) {
        if (text == name) return value;
    }
    return std::nullopt;
}

constexpr std::pair<Decision, const char*> kDecisions[] = {
    {Decision::Promoted, "promoted"}, {Decision::Refused, "refused"}, {Decision::RolledBack, "rolled_back"}};
constexpr std::pair<ReloadOutcome, const char*> kReloads[] = {{ReloadOutcome::NotRequested, "not_requested"},
                                                              {ReloadOutcome::Reloaded, "reloaded"},
                                                              {ReloadOutcome::Failed, "failed"}};

std::string text_field(const nlohmann::json& json, const char* key) {
    return json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : "";
}

std::string accuracy_text(const nlohmann::json& summary, const char* key) {
    if (!summary.contains(key) || !summary[key].is_number()) return "-";
    std::ostringstream out;
    out << std::fixed << std::setprecision(3) << summary[key].get<double>();
    return out.str();
}

}  // namespace

const char* decision_name(Decision decision) {
    for (const auto& [value, name] : kDecisions) {
        if (value == decision) return name;
    }
    return "refused";
}

const char* reload_outcome_name(ReloadOutcome outcome) {
    for (const auto& [value, name] : kReloads) {
        if (value == outcome) return name;
    }
    return "failed";
}

nlohmann::json record_to_json(const PromotionRecord& r) {
    nlohmann::json json = {{"time", r.time},
                           {"decision", decision_name(r.decision)},
                           {"reason", r.reason},
                           {"data_sha256", r.data_sha256},
                           {"base_sha256", r.base_sha256},
                           {"candidate_sha256", r.candidate_sha256},
                           {"current_sha256", r.current_sha256},
                           {"generation", r.generation},
                           {"replaced_generation", r.replaced_generation},
                           {"candidate_dir", r.candidate_dir},
                           {"report", r.report},
                           {"summary", r.summary},
                           {"reload", reload_outcome_name(r.reload)}};
    if (!r.reload_error.empty()) json["reload_error"] = r.reload_error;
    return json;
}

Result<PromotionRecord> record_from_json(const nlohmann::json& json) {
    if (!json.is_object()) return Error{"invalid_record", "a record must be a JSON object"};
    PromotionRecord r;
    const auto decision = parse_enum(text_field(json, "decision"), kDecisions);
    if (!decision) return Error{"invalid_record", "\"decision\" must be promoted, refused or rolled_back"};
    const auto reload = parse_enum(text_field(json, "reload"), kReloads);
    if (!reload) return Error{"invalid_record", "\"reload\" must be not_requested, reloaded or failed"};
    r.decision = *decision;
    r.reload = *reload;
    r.time = text_field(json, "time");
    r.reason = text_field(json, "reason");
    r.data_sha256 = text_field(json, "data_sha256");
    r.base_sha256 = text_field(json, "base_sha256");
    r.candidate_sha256 = text_field(json, "candidate_sha256");
    r.current_sha256 = text_field(json, "current_sha256");
    r.generation = text_field(json, "generation");
    r.replaced_generation = text_field(json, "replaced_generation");
    r.candidate_dir = text_field(json, "candidate_dir");
    r.report = text_field(json, "report");
    r.reload_error = text_field(json, "reload_error");
    if (json.contains("summary") && json["summary"].is_object()) r.summary = json["summary"];
    return r;
}

Status append_record(const std::string& log_path, const PromotionRecord& record) {
    return append_line_durably(log_path, record_to_json(record).dump());
}

Result<PromotionHistory> read_history(const std::string& log_path) {
    PromotionHistory history;
    std::error_code error;
    if (!std::filesystem::exists(log_path, error)) return history;
    Result<std::string> text = read_text_file(log_path);
    if (!text) return Error{"read_failed", text.error().message};
    std::istringstream lines(*text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        if (line.empty()) continue;
        const nlohmann::json json = nlohmann::json::parse(line, nullptr, false);
        Result<PromotionRecord> record = json.is_discarded()
                                             ? Result<PromotionRecord>::failure("invalid_record", "not JSON")
                                             : record_from_json(json);
        if (record) {
            history.records.push_back(std::move(*record));
        } else {
            history.unreadable_lines.push_back(number);
        }
    }
    return history;
}

std::string format_history(const PromotionHistory& history) {
    std::ostringstream out;
    out << std::left << std::setw(22) << "time" << std::setw(13) << "decision" << std::setw(12)
        << "generation" << std::setw(11) << "candidate" << std::setw(9) << "current" << std::setw(15)
        << "reload"
        << "reason\n";
    for (const PromotionRecord& r : history.records) {
        out << std::setw(22) << r.time << std::setw(13) << decision_name(r.decision) << std::setw(12)
            << (r.generation.empty() ? "-" : r.generation) << std::setw(11)
            << accuracy_text(r.summary, "candidate_accuracy") << std::setw(9)
            << accuracy_text(r.summary, "current_accuracy") << std::setw(15) << reload_outcome_name(r.reload)
            << r.reason << "\n";
    }
    if (history.records.empty()) out << "(no promotions yet)\n";
    for (int line : history.unreadable_lines) out << "line " << line << " of the log is not a record\n";
    return out.str();
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm parts{};
    gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

}  // namespace mimir::promote
