// Checks, summaries and splits of a fine-tuning data set, behind `mimir dataset validate|stats|split`.
// No model here: token counts (under a base model's tokenizer) come in from the caller, one per usable
// row, in row order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/fine_tuning_data.h"

namespace mimir {

// Two prompts are near duplicates when their word-trigram Jaccard similarity reaches this.
inline constexpr double kNearDuplicateJaccard = 0.8;

// The text prompts are compared by: ASCII lowercased, every run of other bytes than ASCII letters and
// digits one space, trimmed ("What's 2+2?" -> "what s 2 2"). Non-ASCII bytes count as separators.
std::string normalize_prompt(std::string_view text);

// Jaccard similarity of the two texts' sets of word trigrams (three consecutive words of the normalised
// text); 0 when either has fewer than three words, so short prompts only ever match exactly.
double trigram_jaccard(std::string_view a, std::string_view b);

// How two prompts relate: exact (equal once normalised), near (trigram Jaccard >= the threshold), or not.
enum class PromptMatch { none, exact, near };
std::string_view to_string(PromptMatch match);

// Prompts to compare others against, indexed so a look-up visits few of them: an all-pairs scan is
// quadratic, too slow for a feedback store of tens of thousands of rows. Matching is the same as above:
// exact once normalised, else near at trigram Jaccard >= the threshold. Only each prompt's rarest trigrams
// are indexed (prefix filtering: two sets that reach the threshold share one of them), rarest as counted in
// `corpus`, the prompts that will be added or looked up when they are known beforehand; without it the
// order is arbitrary, still exact but slower when many prompts share trigrams.
class PromptIndex {
  public:
    explicit PromptIndex(double threshold = kNearDuplicateJaccard,
                         const std::vector<std::string_view>& corpus = {});

    // An indexed prompt that matches the one looked up; `position` counts from 0 in the order added.
    struct Match {
        size_t position = 0;
        PromptMatch match = PromptMatch::none;
        double jaccard = 0;
    };

    // Every indexed prompt that matches `prompt`, by position.
    std::vector<Match> matches(std::string_view prompt) const;
    // Indexes `prompt` and returns its position.
    size_t add(std::string_view prompt);
    size_t size() const { return normalized_.size(); }

  private:
    // The first trigrams of `trigrams` (sorted by hash) in rarest-first order that a match must share.
    std::vector<uint64_t> prefix(const std::vector<uint64_t>& trigrams) const;

    double threshold_;
    std::unordered_map<uint64_t, uint32_t> frequency_;  // trigram -> prompts of the corpus holding it
    std::vector<std::string> normalized_;
    std::vector<std::vector<uint64_t>> trigrams_;  // each sorted by hash
    std::unordered_map<std::string, std::vector<size_t>> by_text_;
    std::unordered_map<uint64_t, std::vector<size_t>> by_trigram_;
};

// Two rows of one data set with the same or nearly the same prompt; second_row > first_row.
struct DuplicatePrompts {
    int first_row = 0;
    int second_row = 0;
    PromptMatch match = PromptMatch::none;
    double jaccard = 0;
};

// A prompt from elsewhere that the data set must not contain, e.g. an eval suite case ("math-01").
struct HeldOutPrompt {
    std::string label;
    std::string prompt;
};

// A data set row whose prompt equals or nearly equals a held-out prompt.
struct Contamination {
    int row_number = 0;
    std::string label;
    PromptMatch match = PromptMatch::none;
    double jaccard = 0;
};

// Every pair of rows whose prompts match, in row order.
std::vector<DuplicatePrompts> find_duplicate_prompts(const std::vector<FineTuningRow>& rows,
                                                     double threshold = kNearDuplicateJaccard);

// Every (row, held-out prompt) pair that matches, in row order.
std::vector<Contamination> find_contamination(const std::vector<FineTuningRow>& rows,
                                              const std::vector<HeldOutPrompt>& held_out,
                                              double threshold = kNearDuplicateJaccard);

// What `mimir dataset validate` found. Errors: the reader's row problems, rows over the context, duplicate
// prompts, contamination. Warnings (they do not fail): a missing Category column, rows without one.
struct DatasetValidation {
    std::vector<RowProblem> row_problems;  // unusable rows and rows over the context, by row
    std::vector<DuplicatePrompts> duplicates;
    std::vector<Contamination> contamination;
    std::vector<std::string> warnings;
    size_t error_count() const { return row_problems.size() + duplicates.size() + contamination.size(); }
};

// `token_counts`: one per row of data.rows when known (checked against n_ctx), else empty.
DatasetValidation validate_dataset(const FineTuningData& data, const std::vector<HeldOutPrompt>& held_out,
                                   const std::vector<int>& token_counts, int n_ctx);

// Smallest, median (the lower middle one for an even count) and largest of some counts.
struct CountSummary {
    int min = 0;
    int median = 0;
    int max = 0;
};
std::optional<CountSummary> summarize_counts(std::vector<int> counts);

// Words: runs of non-whitespace.
int count_words(std::string_view text);

// The labels an Issues cell uses: the text before ':' at the start of each line, when it is a short
// capitalised name of letters and spaces ("Writing Quality: ..." -> "Writing Quality"); each label once per
// cell. Lines without one add nothing.
std::vector<std::string> issue_labels(std::string_view issues);

// What `mimir dataset stats` prints. Counts are sorted by name; "" stands for rows without a category and
// for Issues cells without any label.
struct DatasetStats {
    size_t rows = 0;
    size_t skipped_rows = 0;
    std::vector<std::pair<std::string, size_t>> categories;
    std::vector<std::pair<std::string, size_t>> issue_labels;  // rows whose Issues use each label
    std::optional<CountSummary> ideal_words, model_words, tokens;
};
DatasetStats dataset_stats(const FineTuningData& data, const std::vector<int>& token_counts);

// Splits row indices into train and eval. Rows are grouped by category and each group is split on its own
// with split_train_eval (so every category of two or more rows lands in both parts); without categories it
// is exactly split_train_eval(rows.size(), eval_fraction, seed), the trainer's split. Indices ascend.
TrainEvalSplit split_stratified(const std::vector<FineTuningRow>& rows, double eval_fraction, uint64_t seed);

}  // namespace mimir
