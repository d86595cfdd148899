#include "data/feedback_export.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "support/files.h"

namespace mimir::data {

namespace {

// A page of the store's newest-first list; the store may cap it lower.
constexpr int kPageSize = 200;

Status read_state(FeedbackStore& store, ReviewState state, std::vector<FeedbackRecord>& out) {
    FeedbackFilter filter{.state = state, .limit = kPageSize};
    while (true) {
        Result<std::vector<FeedbackRecord>> page = store.list(filter);
        if (!page) return Status(page.error());
        if (page->empty()) return ok_status();
        int64_t oldest = page->front().id;
        for (FeedbackRecord& record : *page) {
            oldest = std::min(oldest, record.id);
            out.push_back(std::move(record));
        }
        filter.before_id = oldest;
    }
}

bool is_blank(const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string one_line(const std::string& text) {
    std::string out;
    bool pending_space = false;
    for (char c : text) {
        if (c == '\n' || c == '\r') {
            pending_space = true;
            continue;
        }
        if (pending_space && !out.empty() && out.back() != ' ') out.push_back(' ');
        pending_space = false;
        out.push_back(c);
    }
    const size_t first = out.find_first_not_of(" \t");
    return first == std::string::npos ? std::string()
                                      : out.substr(first, out.find_last_not_of(" \t") - first + 1);
}

std::string merge_row_name(const FineTuningRow& row) {
    return "merge row " + std::to_string(row.row_number) + " (line " + std::to_string(row.line) + ")";
}

// The drop for `prompt` when it matches an indexed prompt, naming the first (oldest) one it matches.
std::optional<ExportDrop> first_match(const PromptIndex& index, const std::string& prompt, int64_t id,
                                      ExportDropReason reason, const std::vector<std::string>& names) {
    const std::vector<PromptIndex::Match> found = index.matches(prompt);
    if (found.empty()) return std::nullopt;
    const PromptIndex::Match& m = found.front();
    return ExportDrop{id, reason, names[m.position], m.match, m.jaccard};
}

Result<ExportWritten> write_json_lines(const std::string& path, const std::vector<FineTuningRow>& rows,
                                       ExportFormat format) {
    using nlohmann::json;
    ExportWritten written;
    const Status status = write_file_atomically(path, [&](std::FILE* file) {
        for (const FineTuningRow& row : rows) {
            json line = {{"prompt", row.prompt}};
            if (format == ExportFormat::trl) {
                line["completion"] = row.ideal_response;
            } else if (is_blank(row.model_response) || row.model_response == row.ideal_response) {
                ++written.without_pair;
                continue;
            } else {
                line["chosen"] = row.ideal_response;
                line["rejected"] = row.model_response;
            }
            const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
            if (std::fwrite(text.data(), 1, text.size(), file) != text.size()) return false;
            ++written.rows;
        }
        return true;
    });
    if (!status) return Result<ExportWritten>(status.error());
    return written;
}

}  // namespace

Result<std::vector<FeedbackRecord>> read_feedback_for_export(FeedbackStore& store, ExportScope scope) {
    std::vector<FeedbackRecord> records;
    if (Status read = read_state(store, ReviewState::approved, records); !read)
        return Result<std::vector<FeedbackRecord>>(read.error());
    if (scope == ExportScope::approved_and_pending) {
        if (Status read = read_state(store, ReviewState::pending, records); !read)
            return Result<std::vector<FeedbackRecord>>(read.error());
    }
    std::sort(records.begin(), records.end(),
              [](const FeedbackRecord& a, const FeedbackRecord& b) { return a.id < b.id; });
    // A row a reviewer moves between the two reads would otherwise come twice.
    records.erase(std::unique(records.begin(), records.end(),
                              [](const FeedbackRecord& a, const FeedbackRecord& b) { return a.id == b.id; }),
                  records.end());
    return records;
}

std::string issues_cell(const std::vector<std::string>& issues, const std::string& notes) {
    const std::string comment = one_line(notes);
    if (issues.size() == 1) return issues[0] + ": " + (comment.empty() ? "flagged." : comment);
    std::string cell;
    for (const std::string& issue : issues) cell += (cell.empty() ? "" : "\n") + issue + ": flagged.";
    if (!comment.empty()) cell += (cell.empty() ? "" : "\n") + std::string("Other Notes: ") + comment;
    return cell;
}

std::string describe(const ExportDrop& drop) {
    const std::string id = "feedback " + std::to_string(drop.feedback_id) + ": ";
    switch (drop.reason) {
        case ExportDropReason::no_rewrite:
            return id + "no ideal response, skipped";
        case ExportDropReason::no_prompt:
            return id + "no prompt, skipped";
        case ExportDropReason::contamination:
        case ExportDropReason::duplicate:
            break;
    }
    std::string how = drop.match == PromptMatch::exact ? "same text once normalised" : "";
    if (drop.match == PromptMatch::near) {
        char similarity[48];
        std::snprintf(similarity, sizeof similarity, "word-trigram Jaccard %.2f", drop.jaccard);
        how = similarity;
    }
    if (drop.reason == ExportDropReason::contamination) {
        return id + "refused: its prompt matches " + drop.matches + " (" + how +
               "); training on it would contaminate the evaluation";
    }
    return id + (drop.match == PromptMatch::exact ? "duplicate" : "near duplicate") + " of " + drop.matches +
           " (" + how + "), dropped";
}

size_t ExportPlan::count(ExportDropReason reason) const {
    return static_cast<size_t>(std::count_if(dropped.begin(), dropped.end(),
                                             [&](const ExportDrop& d) { return d.reason == reason; }));
}

std::vector<FineTuningRow> ExportPlan::rows() const {
    std::vector<FineTuningRow> out = merged;
    for (const ExportedRow& added_row : added) out.push_back(added_row.row);
    return out;
}

ExportPlan plan_export(const std::vector<FeedbackRecord>& records, const FineTuningData* merge,
                       const std::vector<HeldOutPrompt>& held_out) {
    ExportPlan plan;
    plan.records_read = records.size();
    // Every prompt the indexes will see, so each indexes its rarest trigrams.
    std::vector<std::string_view> corpus;
    for (const HeldOutPrompt& prompt : held_out) corpus.push_back(prompt.prompt);
    if (merge != nullptr) {
        for (const FineTuningRow& row : merge->rows) corpus.push_back(row.prompt);
    }
    for (const FeedbackRecord& record : records) corpus.push_back(record.submission.prompt);
    PromptIndex suite_index(kNearDuplicateJaccard, corpus), merge_index(kNearDuplicateJaccard, corpus),
        added_index(kNearDuplicateJaccard, corpus);
    std::vector<std::string> suite_names, merge_names, added_names;
    for (const HeldOutPrompt& prompt : held_out) {
        suite_index.add(prompt.prompt);
        suite_names.push_back(prompt.label);
    }
    if (merge != nullptr) {
        plan.merged = merge->rows;
        plan.with_category = merge->has_category_column;
        for (const FineTuningRow& row : merge->rows) {
            merge_index.add(row.prompt);
            merge_names.push_back(merge_row_name(row));
        }
    }
    for (const FeedbackRecord& record : records) {
        const FeedbackSubmission& s = record.submission;
        if (is_blank(s.prompt)) {
            plan.dropped.push_back({record.id, ExportDropReason::no_prompt});
            continue;
        }
        if (is_blank(s.ideal_response)) {
            plan.dropped.push_back({record.id, ExportDropReason::no_rewrite});
            continue;
        }
        std::optional<ExportDrop> drop =
            first_match(suite_index, s.prompt, record.id, ExportDropReason::contamination, suite_names);
        if (!drop)
            drop = first_match(merge_index, s.prompt, record.id, ExportDropReason::duplicate, merge_names);
        if (!drop)
            drop = first_match(added_index, s.prompt, record.id, ExportDropReason::duplicate, added_names);
        if (drop) {
            plan.dropped.push_back(std::move(*drop));
            continue;
        }
        added_index.add(s.prompt);
        added_names.push_back("feedback " + std::to_string(record.id));
        plan.added.push_back({record.id, FineTuningRow{.prompt = s.prompt,
                                                       .model_response = s.model_response,
                                                       .issues = issues_cell(s.issues, s.notes),
                                                       .ideal_response = s.ideal_response}});
    }
    return plan;
}

const char* to_string(ExportFormat format) {
    switch (format) {
        case ExportFormat::trl:
            return "trl";
        case ExportFormat::trl_preference:
            return "trl-preference";
        case ExportFormat::csv:
            break;
    }
    return "csv";
}

std::optional<ExportFormat> export_format_from_string(std::string_view text) {
    for (ExportFormat format : {ExportFormat::csv, ExportFormat::trl, ExportFormat::trl_preference}) {
        if (text == to_string(format)) return format;
    }
    return std::nullopt;
}

Result<ExportWritten> write_export(const std::string& path, const std::vector<FineTuningRow>& rows,
                                   ExportFormat format, bool with_category) {
    if (format != ExportFormat::csv) return write_json_lines(path, rows, format);
    if (Status written = write_fine_tuning_csv(path, rows, with_category); !written)
        return Result<ExportWritten>(written.error());
    return ExportWritten{.rows = rows.size()};
}

}  // namespace mimir::data
