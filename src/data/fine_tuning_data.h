// The Mimir fine-tuning data set: one row per reviewed model answer (columns prompt, model response,
// issues, ideal response, and an optional category; names matched case-insensitively). Training uses the
// prompt and the ideal response; the other columns are kept for reports, checks and stratified splits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir {

struct FineTuningRow {
    int row_number = 0;  // 1-based data row (the header is row 0), as a spreadsheet user counts them
    int line = 0;        // line in the file where the row starts
    std::string prompt;
    std::string model_response;
    std::string issues;
    std::string ideal_response;
    std::string category;  // e.g. "math"; empty when the file has no Category column or the cell is empty
};

// A row that was not usable and why, e.g. {row 5, line 9, "missing ideal response"}.
struct RowProblem {
    int row_number = 0;
    int line = 0;
    std::string reason;
};

struct FineTuningData {
    std::vector<FineTuningRow> rows;   // usable rows in file order
    std::vector<RowProblem> problems;  // skipped rows in file order
    bool has_category_column = false;
};

// Reads the CSV at `path`. Cells come back as written before spreadsheet escaping (csv.h): a leading quote
// that write_fine_tuning_csv added is removed, so a reply that starts with "- " trains as it was written.
// Fails for an unreadable or empty file and for a header without the prompt or ideal response column
// ("wrong_columns", naming the columns found). Rows with broken quoting or an empty prompt / ideal response
// become problems; a data set left with no rows fails ("no_rows").
Result<FineTuningData> read_fine_tuning_csv(const std::string& path);

// Same, from text already in memory (`source` names it in messages).
Result<FineTuningData> parse_fine_tuning_csv(const std::string& text, const std::string& source);

// "row 5 (line 9): missing ideal response"
std::string describe(const RowProblem& problem);

// Writes rows under the header Prompt,Model Response,Issues,Ideal Response[,Category] (the Category
// column when `with_category`), atomically and safe to open in a spreadsheet (CsvCells::spreadsheet_safe);
// "write_failed" names the file.
Status write_fine_tuning_csv(const std::string& path, const std::vector<FineTuningRow>& rows,
                             bool with_category);

// Indices [0, n) shuffled with `seed` and split: the first round(n * eval_fraction) go to eval (at least
// one when eval_fraction > 0 and n >= 2, never all of them). Same seed, same split on every machine.
struct TrainEvalSplit {
    std::vector<size_t> train;
    std::vector<size_t> eval;
};
TrainEvalSplit split_train_eval(size_t n, double eval_fraction, uint64_t seed);

// A portable shuffle (std::shuffle's algorithm differs between standard libraries): Fisher-Yates with
// SplitMix64, so checkpoints resume with the same order anywhere.
void seeded_shuffle(std::vector<size_t>& items, uint64_t seed);

}  // namespace mimir
