// mimir dataset validate|stats|split|export: check, summarise and split the fine-tuning CSV, and export the
// feedback store's reviewed rows into it. The checks live in data/dataset_checks.h and the export's rules in
// data/feedback_export.h; this file reads the flags, counts tokens under a base model's tokenizer when one
// is given, reads the eval suite (data does not link eval), and prints.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "data/dataset_checks.h"
#include "data/feedback_export.h"
#include "eval/suite.h"
#include "train/chat_examples.h"
#include "train/trainer.h"

namespace mimir::cli {

namespace {

int report_failure(const char* command, const Error& error) {
    std::cerr << "mimir dataset " << command << ": " << error.code << ": " << error.message << "\n";
    return 1;
}

// The rendered chat's length (no system prompt, as `mimir train` by default) for every row, in row order.
Result<std::vector<int>> count_tokens(const FineTuningData& data, const std::string& base_path) {
    Result<std::unique_ptr<ChatTokenizer>> tokenizer = ChatTokenizer::open(base_path);
    if (!tokenizer) return Result<std::vector<int>>(tokenizer.error());
    std::vector<int> counts;
    counts.reserve(data.rows.size());
    for (const FineTuningRow& row : data.rows) {
        Result<TokenSequence> sequence = (*tokenizer)->chat_tokens("", row.prompt, row.ideal_response);
        if (!sequence) return Result<std::vector<int>>(sequence.error());
        counts.push_back(static_cast<int>(sequence->tokens.size()));
    }
    return counts;
}

Result<std::vector<HeldOutPrompt>> suite_prompts(const std::string& suite_path) {
    std::vector<HeldOutPrompt> prompts;
    if (suite_path.empty()) return prompts;
    Result<eval::Suite> suite = eval::read_suite(suite_path);
    if (!suite) return Result<std::vector<HeldOutPrompt>>(suite.error());
    for (const eval::EvalCase& c : suite->cases)
        prompts.push_back(
            {suite_path + " case " + c.id + " (line " + std::to_string(c.line) + ")", c.prompt});
    return prompts;
}

struct ValidateOptions {
    std::string data_path, base_path, suite_path;
    int n_ctx = TrainOptions{}.n_ctx;
};

std::string counted(size_t n, const std::string& noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string similarity_note(PromptMatch match, double jaccard) {
    if (match != PromptMatch::near) return " (same text once normalised)";
    char note[64];
    std::snprintf(note, sizeof note, " (word-trigram Jaccard %.2f)", jaccard);
    return note;
}

void print_validation(const DatasetValidation& found) {
    for (const RowProblem& problem : found.row_problems) std::cout << "error: " << describe(problem) << "\n";
    for (const DuplicatePrompts& d : found.duplicates) {
        std::cout << "error: rows " << d.first_row << " and " << d.second_row << ": "
                  << (d.match == PromptMatch::exact ? "duplicate" : "near-duplicate") << " prompts"
                  << similarity_note(d.match, d.jaccard) << "\n";
    }
    for (const Contamination& c : found.contamination) {
        std::cout << "error: row " << c.row_number << ": prompt matches " << c.label
                  << similarity_note(c.match, c.jaccard) << " (contamination)\n";
    }
    for (const std::string& warning : found.warnings) std::cout << "warning: " << warning << "\n";
}

int run_validate(const ValidateOptions& options) {
    Result<FineTuningData> data = read_fine_tuning_csv(options.data_path);
    if (!data) return report_failure("validate", data.error());
    Result<std::vector<HeldOutPrompt>> held_out = suite_prompts(options.suite_path);
    if (!held_out) return report_failure("validate", held_out.error());
    std::vector<int> token_counts;
    if (!options.base_path.empty()) {
        Result<std::vector<int>> counts = count_tokens(*data, options.base_path);
        if (!counts) return report_failure("validate", counts.error());
        token_counts = std::move(*counts);
    }
    const DatasetValidation found = validate_dataset(*data, *held_out, token_counts, options.n_ctx);
    print_validation(found);
    std::cout << options.data_path << ": " << counted(data->rows.size() + data->problems.size(), "row")
              << ", " << counted(found.error_count(), "error") << ", "
              << counted(found.warnings.size(), "warning");
    if (!options.suite_path.empty())
        std::cout << "; checked against " << held_out->size() << " suite prompts";
    if (options.base_path.empty()) std::cout << "; token lengths not checked (give --base)";
    std::cout << "\n";
    return found.error_count() > 0 ? 1 : 0;
}

void print_summary(const char* what, const std::optional<CountSummary>& summary) {
    if (!summary) return;
    std::cout << what << ": min " << summary->min << ", median " << summary->median << ", max "
              << summary->max << "\n";
}

int run_stats(const std::string& data_path, const std::string& base_path) {
    Result<FineTuningData> data = read_fine_tuning_csv(data_path);
    if (!data) return report_failure("stats", data.error());
    std::vector<int> token_counts;
    if (!base_path.empty()) {
        Result<std::vector<int>> counts = count_tokens(*data, base_path);
        if (!counts) return report_failure("stats", counts.error());
        token_counts = std::move(*counts);
    }
    const DatasetStats stats = dataset_stats(*data, token_counts);
    std::cout << data_path << ": " << stats.rows << " rows (" << stats.skipped_rows << " skipped)\n"
              << "categories:\n";
    for (const auto& [name, count] : stats.categories)
        std::cout << "  " << (name.empty() ? "(none)" : name) << " " << count << "\n";
    std::cout << "issue labels (rows using each):\n";
    for (const auto& [name, count] : stats.issue_labels)
        std::cout << "  " << (name.empty() ? "(no label)" : name) << " " << count << "\n";
    print_summary("words, ideal response", stats.ideal_words);
    print_summary("words, model response", stats.model_words);
    if (stats.tokens) {
        print_summary("tokens, rendered chat", stats.tokens);
    } else {
        std::cout << "tokens: give --base BASE.gguf to count them under the base model's tokenizer\n";
    }
    return 0;
}

struct SplitOptions {
    std::string data_path, train_path, eval_path;
    double eval_fraction = 0.1;
    uint64_t seed = 42;
};

int run_split(const SplitOptions& options) {
    Result<FineTuningData> data = read_fine_tuning_csv(options.data_path);
    if (!data) return report_failure("split", data.error());
    for (const RowProblem& problem : data->problems) std::cerr << "skipped " << describe(problem) << "\n";
    const TrainEvalSplit split = split_stratified(data->rows, options.eval_fraction, options.seed);
    auto rows_at = [&](const std::vector<size_t>& indices) {
        std::vector<FineTuningRow> rows;
        for (size_t i : indices) rows.push_back(data->rows[i]);
        return rows;
    };
    const bool with_category = data->has_category_column;
    if (Status written = write_fine_tuning_csv(options.train_path, rows_at(split.train), with_category);
        !written)
        return report_failure("split", written.error());
    if (Status written = write_fine_tuning_csv(options.eval_path, rows_at(split.eval), with_category);
        !written)
        return report_failure("split", written.error());
    std::cout << "wrote " << split.train.size() << " rows to " << options.train_path << " and "
              << split.eval.size() << " rows to " << options.eval_path
              << (with_category ? " (stratified by category)" : "") << "\n";
    return 0;
}

void register_validate(CLI::App& dataset, int& exit_code) {
    auto o = std::make_shared<ValidateOptions>();
    CLI::App* command = dataset.add_subcommand(
        "validate",
        "Check a fine-tuning CSV; exit status 1 on errors: unusable rows (bad quoting, missing prompt or "
        "ideal "
        "response), rows over --ctx tokens (with --base), duplicate prompts (equal once lowercased with "
        "punctuation and spacing collapsed) and near duplicates (word-trigram Jaccard >= 0.8), and prompts "
        "that match an eval suite's (contamination, same two tests). Missing categories are warnings");
    command->add_option("file", o->data_path, "The CSV")->required()->check(CLI::ExistingFile);
    command
        ->add_option("--base", o->base_path, "Base model GGUF whose tokenizer and chat template count tokens")
        ->check(CLI::ExistingFile);
    command->add_option("--ctx", o->n_ctx, "Longest rendered chat in tokens (with --base)")
        ->capture_default_str();
    command
        ->add_option("--suite", o->suite_path, "Eval suite (JSON Lines) whose prompts the CSV must not hold")
        ->check(CLI::ExistingFile);
    command->callback([o, &exit_code] { exit_code = run_validate(*o); });
}

void register_stats(CLI::App& dataset, int& exit_code) {
    auto data_path = std::make_shared<std::string>();
    auto base_path = std::make_shared<std::string>();
    CLI::App* command = dataset.add_subcommand(
        "stats", "Rows per category and per issue label, word counts, and token lengths with --base");
    command->add_option("file", *data_path, "The CSV")->required()->check(CLI::ExistingFile);
    command
        ->add_option("--base", *base_path, "Base model GGUF whose tokenizer and chat template count tokens")
        ->check(CLI::ExistingFile);
    command->callback([data_path, base_path, &exit_code] { exit_code = run_stats(*data_path, *base_path); });
}

void register_split(CLI::App& dataset, int& exit_code) {
    auto o = std::make_shared<SplitOptions>();
    CLI::App* command = dataset.add_subcommand(
        "split",
        "Write a train and an eval CSV: a seeded shuffle within each category (the trainer's split when "
        "there are no categories); the same seed gives the same split everywhere");
    command->add_option("file", o->data_path, "The CSV")->required()->check(CLI::ExistingFile);
    command->add_option("--eval-fraction", o->eval_fraction, "Share of each category held out")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    command->add_option("--seed", o->seed, "Seed of the shuffle")->capture_default_str();
    command->add_option("--out-train", o->train_path, "Where to write the train rows")->required();
    command->add_option("--out-eval", o->eval_path, "Where to write the eval rows")->required();
    command->callback([o, &exit_code] { exit_code = run_split(*o); });
}

struct ExportOptions {
    std::string store_location, out_path, merge_path, format = "csv";
    std::string suite_path = "data/eval_suite.jsonl";
    bool suite_given = false;
    bool include_pending = false;
};

bool is_postgres_url(const std::string& location) {
    return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

// Opening a SQLite path creates the store; an export from a path that holds none is a mistake to report.
Result<std::unique_ptr<data::FeedbackStore>> open_existing_store(const std::string& location) {
    using Opened = Result<std::unique_ptr<data::FeedbackStore>>;
    if (!is_postgres_url(location)) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(location, error))
            return Opened::failure("not_found", location + ": no feedback store there (mimir serve --data " +
                                                    location + " creates one)");
    }
    return data::open_feedback_store(location);
}

// The suite the export checks against: --suite, or data/eval_suite.jsonl when there is one.
Result<std::vector<HeldOutPrompt>> export_suite_prompts(const ExportOptions& options) {
    std::error_code error;
    if (!options.suite_given && !std::filesystem::exists(options.suite_path, error)) {
        std::cout << "no eval suite at " << options.suite_path
                  << ": prompts not checked for contamination (give --suite)\n";
        return std::vector<HeldOutPrompt>{};
    }
    return suite_prompts(options.suite_path);
}

Result<std::optional<FineTuningData>> read_merge_file(const std::string& path) {
    using Read = Result<std::optional<FineTuningData>>;
    if (path.empty()) return std::optional<FineTuningData>();
    Result<FineTuningData> merge = read_fine_tuning_csv(path);
    if (!merge) return Read(merge.error());
    if (!merge->problems.empty()) {
        // Writing the rest would silently drop these rows from the data set.
        return Read::failure("unusable_rows", path + ": " + counted(merge->problems.size(), "unusable row") +
                                                  ", first " + describe(merge->problems.front()) +
                                                  "; fix them (mimir dataset validate) before merging");
    }
    return std::optional<FineTuningData>(std::move(*merge));
}

void print_export_summary(const ExportOptions& options, const data::ExportPlan& plan,
                          const data::ExportWritten& written) {
    using data::ExportDropReason;
    std::cout << "read " << counted(plan.records_read, "feedback row")
              << (options.include_pending ? " (approved and pending)" : " (approved)") << "; wrote "
              << counted(written.rows, "row") << " to " << options.out_path << " (" << plan.merged.size()
              << " from " << (options.merge_path.empty() ? "no merge file" : options.merge_path) << ", "
              << plan.added.size() << " new); "
              << counted(plan.count(ExportDropReason::duplicate), "duplicate") << " dropped, "
              << plan.count(ExportDropReason::contamination) << " refused for contamination, "
              << plan.count(ExportDropReason::no_rewrite) + plan.count(ExportDropReason::no_prompt)
              << " skipped without a rewrite or prompt";
    if (written.without_pair > 0)
        std::cout << ", " << counted(written.without_pair, "row")
                  << " without a distinct model reply left out";
    std::cout << "\n";
}

int run_export(const ExportOptions& options) {
    const std::optional<data::ExportFormat> format = data::export_format_from_string(options.format);
    if (!format) return report_failure("export", {"invalid_format", "--format " + options.format});
    std::error_code error;
    if (*format != data::ExportFormat::csv && !options.merge_path.empty() &&
        std::filesystem::equivalent(options.merge_path, options.out_path, error)) {
        return report_failure(
            "export", {"invalid_arguments", "--out " + options.out_path + " is the --merge file: --format " +
                                                options.format + " would replace the CSV with JSON Lines"});
    }
    Result<std::unique_ptr<data::FeedbackStore>> store = open_existing_store(options.store_location);
    if (!store) return report_failure("export", store.error());
    Result<std::vector<data::FeedbackRecord>> records = data::read_feedback_for_export(
        **store,
        options.include_pending ? data::ExportScope::approved_and_pending : data::ExportScope::approved);
    if (!records) return report_failure("export", records.error());
    Result<std::optional<FineTuningData>> merge = read_merge_file(options.merge_path);
    if (!merge) return report_failure("export", merge.error());
    Result<std::vector<HeldOutPrompt>> held_out = export_suite_prompts(options);
    if (!held_out) return report_failure("export", held_out.error());

    const data::ExportPlan plan =
        data::plan_export(*records, merge->has_value() ? &**merge : nullptr, *held_out);
    for (const data::ExportDrop& drop : plan.dropped) std::cout << describe(drop) << "\n";
    const std::vector<FineTuningRow> rows = plan.rows();
    if (rows.empty()) {
        return report_failure("export",
                              {"no_rows", "nothing to write; " + options.out_path + " left as it was"});
    }
    Result<data::ExportWritten> written =
        data::write_export(options.out_path, rows, *format, plan.with_category);
    if (!written) return report_failure("export", written.error());
    print_export_summary(options, plan, *written);
    return 0;
}

void register_export(CLI::App& dataset, int& exit_code) {
    auto o = std::make_shared<ExportOptions>();
    CLI::App* command = dataset.add_subcommand(
        "export",
        "Write reviewed feedback from the store as training data. Approved rows only (--all adds pending "
        "ones; rejected rows never). A row needs an ideal response; its Issues cell is written from the "
        "ticked categories and notes (\"Tone: <notes>\"). With --merge the existing rows come first, "
        "unchanged, then the new ones; exact and near duplicates (as `dataset validate` finds them) of "
        "existing or earlier rows are dropped, and prompts that match the eval suite are refused (they would "
        "contaminate the evaluation), one printed line each. CSV cells that start with = + - @ tab or CR get "
        "a leading ' so Sheets and Excel show them as text; Mimir's CSV reader removes it again, so training "
        "sees the text as written. The output is replaced atomically: an interrupted export leaves the old "
        "file");
    command->add_option("--data", o->store_location, "Feedback store: a SQLite file or a postgresql:// URL")
        ->required();
    command->add_option("--out", o->out_path, "File to write (may be the --merge file)")->required();
    command->add_option("--merge", o->merge_path, "Existing fine-tuning CSV whose rows come first")
        ->check(CLI::ExistingFile);
    command->add_flag("--all", o->include_pending,
                      "Include pending (unreviewed) rows as well as approved ones");
    command
        ->add_option("--format", o->format,
                     "csv: the fine-tuning CSV (Prompt, Model Response, Issues, Ideal Response, and Category "
                     "when the merge file has one); trl: JSON Lines {\"prompt\",\"completion\"}; "
                     "trl-preference: JSON Lines {\"prompt\",\"chosen\",\"rejected\"}, the model's reply as "
                     "rejected (rows without a distinct reply are left out)")
        ->capture_default_str()
        ->check(CLI::IsMember({"csv", "trl", "trl-preference"}));
    command
        ->add_option("--suite", o->suite_path,
                     "Eval suite whose prompts must not be exported (default: data/eval_suite.jsonl when it "
                     "exists)")
        ->check(CLI::ExistingFile);
    command->callback([o, command, &exit_code] {
        o->suite_given = command->count("--suite") > 0;
        exit_code = run_export(*o);
    });
}

}  // namespace

void register_dataset_commands(CLI::App& app, int& exit_code) {
    CLI::App* dataset = app.add_subcommand(
        "dataset", "Validate, summarise, split and export (from the feedback store) a fine-tuning CSV");
    dataset->require_subcommand(1);
    register_validate(*dataset, exit_code);
    register_stats(*dataset, exit_code);
    register_split(*dataset, exit_code);
    register_export(*dataset, exit_code);
}

}  // namespace mimir::cli
