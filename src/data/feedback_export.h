// `mimir dataset export`: reviewed feedback from the store (feedback_store.h) becomes fine-tuning rows,
// written after an existing data set's rows, without exact or near duplicates (dataset_checks.h's matching)
// and without the eval suite's prompts, which would contaminate the evaluation. The suite's prompts come in
// from the caller: data does not read eval suites.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset_checks.h"
#include "data/feedback_store.h"
#include "data/fine_tuning_data.h"
#include "support/result.h"

namespace mimir::data {

// Which review states an export reads: approved only (the default) or approved and pending (`--all`).
// Rejected rows are never exported.
enum class ExportScope { approved, approved_and_pending };

// Every record in `scope`, oldest first (the store lists newest first, a page at a time). Errors are the
// store's ("store_unavailable", ...).
Result<std::vector<FeedbackRecord>> read_feedback_for_export(FeedbackStore& store, ExportScope scope);

// The Issues cell in the data set's "Label: comment" style, one line per ticked category: with one
// category the notes are its comment ("Tone: too many emoticons"); with several, each reads "flagged." and
// the notes follow as "Other Notes: ..."; notes without a category are "Other Notes: ...". Line breaks in
// the notes become spaces so each line keeps one label.
std::string issues_cell(const std::vector<std::string>& issues, const std::string& notes);

// A feedback record turned into a data set row.
struct ExportedRow {
    int64_t feedback_id = 0;
    FineTuningRow row;
};

// Why a feedback record was not exported.
enum class ExportDropReason { no_rewrite, no_prompt, contamination, duplicate };

// A record left out. For a duplicate `matches` names the row it repeats ("merge row 3 (line 5)" or
// "feedback 7"); for contamination, the held-out prompt's label (the suite file and line).
struct ExportDrop {
    int64_t feedback_id = 0;
    ExportDropReason reason = ExportDropReason::no_rewrite;
    std::string matches;
    PromptMatch match = PromptMatch::none;
    double jaccard = 0;
};

// "feedback 12: near duplicate of merge row 3 (line 5) (word-trigram Jaccard 0.86), dropped"
std::string describe(const ExportDrop& drop);

// What an export writes, and what it left out.
struct ExportPlan {
    std::vector<FineTuningRow> merged;  // the merge file's rows, unchanged, written first
    std::vector<ExportedRow> added;     // new rows, oldest feedback first
    std::vector<ExportDrop> dropped;    // in feedback id order
    size_t records_read = 0;
    bool with_category = false;  // the merge file has a Category column (new rows leave it empty)

    size_t count(ExportDropReason reason) const;
    std::vector<FineTuningRow> rows() const;  // merged, then added
};

// Plans an export of `records` (oldest first) after `merge` (nullptr: no merge file). A record is dropped
// when its ideal response or prompt is blank, when its prompt matches one of `held_out` (exact or near),
// or when it matches a merge row or an earlier exported record.
ExportPlan plan_export(const std::vector<FeedbackRecord>& records, const FineTuningData* merge,
                       const std::vector<HeldOutPrompt>& held_out);

// The file formats: the Mimir fine-tuning CSV; JSON Lines for other trainers (TRL's prompt/completion, and
// its preference form prompt/chosen/rejected with the model's reply as rejected).
enum class ExportFormat { csv, trl, trl_preference };
const char* to_string(ExportFormat format);
std::optional<ExportFormat> export_format_from_string(std::string_view text);

// Rows written, and rows a preference file cannot use (no model response, or one equal to the ideal).
struct ExportWritten {
    size_t rows = 0;
    size_t without_pair = 0;
};

// Writes `rows` to `path` atomically (a kill leaves the old file or the complete new one). The CSV is
// spreadsheet safe (csv.h); JSON Lines are not escaped (no spreadsheet opens them). "write_failed" names
// the file.
Result<ExportWritten> write_export(const std::string& path, const std::vector<FineTuningRow>& rows,
                                   ExportFormat format, bool with_category);

}  // namespace mimir::data
