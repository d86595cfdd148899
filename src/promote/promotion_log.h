// DIR/promotions.jsonl: what `mimir promote` decided, one JSON object per line, appended and fsynced before
// the command reports success. `mimir promote --history` reads it back.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir::promote {

enum class Decision { Promoted, Refused, RolledBack };
const char* decision_name(Decision decision);  // "promoted", "refused", "rolled_back"

// Whether the running server was told to load the new current generation (--server).
enum class ReloadOutcome { NotRequested, Reloaded, Failed };
const char* reload_outcome_name(ReloadOutcome outcome);  // "not_requested", "reloaded", "failed"

struct PromotionRecord {
    std::string time;  // UTC, ISO 8601
    Decision decision = Decision::Refused;
    std::string reason;
    std::string data_sha256, base_sha256;  // the training CSV and the base GGUF (empty for a rollback)
    std::string candidate_sha256;          // the candidate's (or rolled-back-to) fine-tuned GGUF
    std::string current_sha256;            // the fine-tuned GGUF that was current before; empty when none
    std::string generation;                // the generation now current after this record ("" = none)
    std::string replaced_generation;       // the generation that was current before
    std::string candidate_dir;             // where the candidate is: generations/NNNN or candidates/<id>
    std::string report;                    // the eval report's report.json, relative to DIR
    nlohmann::json summary = nlohmann::json::object();  // the gate's figures (promote/gate.h)
    ReloadOutcome reload = ReloadOutcome::NotRequested;
    std::string reload_error;
};

nlohmann::json record_to_json(const PromotionRecord& record);
// Error "invalid_record" naming the field.
Result<PromotionRecord> record_from_json(const nlohmann::json& json);

// Appends the record as one line and fsyncs. Error "write_failed".
Status append_record(const std::string& log_path, const PromotionRecord& record);

struct PromotionHistory {
    std::vector<PromotionRecord> records;  // oldest first
    std::vector<int> unreadable_lines;     // 1-based: a line cut by a crash mid-append, or edited by hand
};

// Every record of the log; a missing log is an empty history. Error "read_failed".
Result<PromotionHistory> read_history(const std::string& log_path);

// The history as a terminal table: time, decision, generation, accuracies, reload, reason.
std::string format_history(const PromotionHistory& history);

// The current UTC time as ISO 8601 ("2026-12-01T19:30:00Z").
std::string utc_now();

}  // namespace mimir::promote
