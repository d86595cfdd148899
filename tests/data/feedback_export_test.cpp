#include "data/feedback_export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/csv.h"

namespace mimir::data {
namespace {

// The interface's contract in memory: newest first, `before_id` paging, a state filter. The command's own
// tests use the real store; this one lets the export logic be checked row by row.
class MemoryStore : public FeedbackStore {
  public:
    int64_t put(FeedbackSubmission submission, ReviewState state) {
        const int64_t id = next_id_++;
        records_[id] = FeedbackRecord{.id = id, .submission = std::move(submission), .state = state};
        return id;
    }
    Result<int64_t> add(const FeedbackSubmission& submission) override {
        return put(submission, ReviewState::pending);
    }
    Result<FeedbackRecord> get(int64_t id) override {
        if (!records_.count(id))
            return Result<FeedbackRecord>::failure("not_found", "no feedback " + std::to_string(id));
        return records_[id];
    }
    Result<std::vector<FeedbackRecord>> list(const FeedbackFilter& filter) override {
        ++list_calls;
        if (unavailable)
            return Result<std::vector<FeedbackRecord>>::failure("store_unavailable", "memory: down");
        std::vector<FeedbackRecord> page;
        for (auto it = records_.rbegin();
             it != records_.rend() && static_cast<int>(page.size()) < filter.limit; ++it) {
            if (filter.before_id != 0 && it->first >= filter.before_id) continue;
            if (filter.state && it->second.state != *filter.state) continue;
            page.push_back(it->second);
        }
        return page;
    }
    Result<FeedbackRecord> review(int64_t, const ReviewDecision&) override {
        return Result<FeedbackRecord>::failure("not_found", "unused");
    }
    std::string describe() const override { return "memory"; }

    bool unavailable = false;
    int list_calls = 0;

  private:
    int64_t next_id_ = 1;
    std::map<int64_t, FeedbackRecord> records_;
};

FeedbackSubmission submission(std::string prompt, std::string ideal,
                              std::vector<std::string> issues = {"Tone"},
                              std::string notes = "too many emoticons") {
    std::string reply = "Sure!!! :) " + prompt;
    return FeedbackSubmission{.prompt = std::move(prompt),
                              .model_response = std::move(reply),
                              .issues = std::move(issues),
                              .notes = std::move(notes),
                              .ideal_response = std::move(ideal),
                              .rating = Rating::down};
}

FeedbackRecord record(int64_t id, FeedbackSubmission s) {
    return FeedbackRecord{.id = id, .submission = std::move(s), .state = ReviewState::approved};
}

std::filesystem::path temp_dir(const std::string& name) {
    const auto dir = std::filesystem::path(MIMIR_TEST_BINARY_DIR) / "test-tmp" / "feedback_export" / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(ExportRead, ApprovedOnlyByDefaultPendingWithAllNeverRejectedOldestFirstAcrossPages) {
    MemoryStore store;
    std::vector<int64_t> approved, pending;
    for (int i = 0; i < 450; ++i) {
        const ReviewState state = i % 3 == 0   ? ReviewState::approved
                                  : i % 3 == 1 ? ReviewState::pending
                                               : ReviewState::rejected;
        const int64_t id = store.put(submission("prompt " + std::to_string(i), "ideal"), state);
        if (state == ReviewState::approved) approved.push_back(id);
        if (state == ReviewState::pending) pending.push_back(id);
    }
    Result<std::vector<FeedbackRecord>> only_approved =
        read_feedback_for_export(store, ExportScope::approved);
    ASSERT_TRUE(only_approved.ok());
    std::vector<int64_t> ids;
    for (const FeedbackRecord& r : *only_approved) ids.push_back(r.id);
    EXPECT_EQ(ids, approved);
    EXPECT_GT(store.list_calls, 1);  // more than one page was read

    Result<std::vector<FeedbackRecord>> all =
        read_feedback_for_export(store, ExportScope::approved_and_pending);
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), approved.size() + pending.size());
    for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].id, (*all)[i].id);
    for (const FeedbackRecord& r : *all) EXPECT_NE(r.state, ReviewState::rejected);
}

TEST(ExportRead, AStoreErrorIsPassedOn) {
    MemoryStore store;
    store.unavailable = true;
    Result<std::vector<FeedbackRecord>> read = read_feedback_for_export(store, ExportScope::approved);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.error().code, "store_unavailable");
}

TEST(ExportIssues, WrittenInTheDataSetsLabelStyle) {
    EXPECT_EQ(issues_cell({"Tone"}, "too many emoticons"), "Tone: too many emoticons");
    EXPECT_EQ(issues_cell({"Tone", "Accuracy"}, "wrong\nand rude "),
              "Tone: flagged.\nAccuracy: flagged.\nOther Notes: wrong and rude");
    EXPECT_EQ(issues_cell({}, "just odd"), "Other Notes: just odd");
    EXPECT_EQ(issues_cell({"Accuracy"}, ""), "Accuracy: flagged.");
    EXPECT_EQ(issues_cell({}, "  "), "");
    // The stats command reads the labels back.
    EXPECT_EQ(issue_labels(issues_cell({"Tone", "Writing Quality"}, "x")),
              (std::vector<std::string>{"Tone", "Writing Quality", "Other Notes"}));
}

TEST(ExportPlan, SkipsRowsWithoutRewriteAndBuildsRowsFromTheRest) {
    const std::vector<FeedbackRecord> records = {
        record(1, submission("How do I factor x^2 - 9?", "What two numbers multiply to -9 and add to 0?")),
        record(2, submission("Why is the sky blue?", "  ")),
        record(3, submission(" ", "An answer without a question")),
    };
    const ExportPlan plan = plan_export(records, nullptr, {});
    EXPECT_EQ(plan.records_read, 3u);
    ASSERT_EQ(plan.added.size(), 1u);
    EXPECT_EQ(plan.added[0].feedback_id, 1);
    EXPECT_EQ(plan.added[0].row.prompt, "How do I factor x^2 - 9?");
    EXPECT_EQ(plan.added[0].row.model_response, "Sure!!! :) How do I factor x^2 - 9?");
    EXPECT_EQ(plan.added[0].row.issues, "Tone: too many emoticons");
    EXPECT_EQ(plan.count(ExportDropReason::no_rewrite), 1u);
    EXPECT_EQ(plan.count(ExportDropReason::no_prompt), 1u);
    EXPECT_EQ(describe(plan.dropped[0]), "feedback 2: no ideal response, skipped");
    EXPECT_FALSE(plan.with_category);
}

FineTuningData merge_data() {
    FineTuningData data;
    data.has_category_column = true;
    data.rows = {
        FineTuningRow{
            .row_number = 1, .line = 2, .prompt = "Hello!", .ideal_response = "Hi.", .category = "greeting"},
        FineTuningRow{.row_number = 2,
                      .line = 3,
                      .prompt = "Can you explain how plants turn sunlight and water into sugar today",
                      .ideal_response = "Photosynthesis ...",
                      .category = "science"}};
    return data;
}

TEST(ExportPlan, MergeRowsComeFirstUnchangedAndDuplicatesNameWhatTheyRepeat) {
    const FineTuningData merge = merge_data();
    const std::vector<FeedbackRecord> records = {
        record(4, submission("hello", "Hello, what shall we study?")),  // exact (normalised) of merge row 1
        record(5, submission("Can you explain how plants turn sunlight and water into sugar today please",
                             "Let's start with the inputs.")),  // near duplicate of merge row 2
        record(6, submission("What is a prime number?", "A number with exactly two divisors.")),
        record(7, submission("what is a PRIME number", "Another rewrite.")),  // exact duplicate of feedback 6
        record(8, submission("How do fractions work?", "Let's look at halves first.")),
    };
    const ExportPlan plan = plan_export(records, &merge, {});
    EXPECT_TRUE(plan.with_category);
    const std::vector<FineTuningRow> rows = plan.rows();
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].prompt, "Hello!");
    EXPECT_EQ(rows[0].category, "greeting");
    EXPECT_EQ(rows[1].category, "science");
    EXPECT_EQ(rows[2].prompt, "What is a prime number?");
    EXPECT_EQ(rows[3].prompt, "How do fractions work?");
    ASSERT_EQ(plan.count(ExportDropReason::duplicate), 3u);
    EXPECT_EQ(describe(plan.dropped[0]),
              "feedback 4: duplicate of merge row 1 (line 2) (same text once normalised), dropped");
    EXPECT_EQ(plan.dropped[1].match, PromptMatch::near);
    EXPECT_NE(describe(plan.dropped[1])
                  .find("feedback 5: near duplicate of merge row 2 (line 3) (word-trigram "
                        "Jaccard 0."),
              std::string::npos);
    EXPECT_EQ(describe(plan.dropped[2]),
              "feedback 7: duplicate of feedback 6 (same text once normalised), dropped");
}

TEST(ExportPlan, SuitePromptsAreRefusedNamingTheSuiteLine) {
    const std::vector<HeldOutPrompt> suite = {
        {"data/eval_suite.jsonl line 3 (math-01)", "Solve 2x + 3 = 11"},
        {"data/eval_suite.jsonl line 4 (science-02)",
         "Why do we have seasons on Earth if the distance to the sun barely changes during the year"}};
    const std::vector<FeedbackRecord> records = {
        record(1, submission("solve 2x+3=11!", "Subtract 3 first.")),
        record(2, submission(
                      "Why do we have seasons on Earth if the distance to the sun barely changes during the "
                      "year at all",
                      "Think about the tilt.")),
        record(3, submission("What is a verb?", "A word for an action.")),
    };
    const ExportPlan plan = plan_export(records, nullptr, suite);
    ASSERT_EQ(plan.added.size(), 1u);
    EXPECT_EQ(plan.added[0].feedback_id, 3);
    ASSERT_EQ(plan.count(ExportDropReason::contamination), 2u);
    EXPECT_EQ(
        describe(plan.dropped[0]),
        "feedback 1: refused: its prompt matches data/eval_suite.jsonl line 3 (math-01) (same text once "
        "normalised); training on it would contaminate the evaluation");
    EXPECT_EQ(plan.dropped[1].match, PromptMatch::near);
    EXPECT_NE(describe(plan.dropped[1]).find("line 4 (science-02)"), std::string::npos);
}

TEST(ExportPlan, ContaminationWinsOverDuplication) {
    const FineTuningData merge = merge_data();
    const ExportPlan plan = plan_export({record(1, submission("Hello!", "Hi there."))}, &merge,
                                        {{"suite line 1 (greeting-01)", "hello"}});
    ASSERT_EQ(plan.dropped.size(), 1u);
    EXPECT_EQ(plan.dropped[0].reason, ExportDropReason::contamination);
}

TEST(ExportFormat, NamesRoundTrip) {
    for (ExportFormat format : {ExportFormat::csv, ExportFormat::trl, ExportFormat::trl_preference})
        EXPECT_EQ(export_format_from_string(to_string(format)), format);
    EXPECT_FALSE(export_format_from_string("xlsx").has_value());
}

std::vector<FineTuningRow> tricky_rows() {
    return {
        FineTuningRow{.prompt = "=HYPERLINK(\"http://evil.example\",\"click\")",
                      .model_response = "+1 is the answer",
                      .issues = "@mention: odd",
                      .ideal_response = "- First, read the question.\n- Then write the equation."},
        FineTuningRow{.prompt = "\tcmd|' /C calc'!A0",
                      .model_response = "\r=1+1",
                      .issues = "'=already quoted",
                      .ideal_response = "Ça va? Let's try 日本語 and emoji 🙂; then '-5 + 3'."},
        FineTuningRow{
            .prompt = "What is -3 times -4?", .model_response = "12", .issues = "", .ideal_response = "12"},
    };
}

TEST(ExportWrite, CsvIsSpreadsheetSafeAndReadsBackUnchanged) {
    const auto dir = temp_dir("csv");
    const std::vector<FineTuningRow> rows = tricky_rows();
    Result<ExportWritten> written = write_export((dir / "out.csv").string(), rows, ExportFormat::csv, false);
    ASSERT_TRUE(written.ok()) << written.error().message;
    EXPECT_EQ(written->rows, 3u);

    // No cell of the file, as a spreadsheet parses it, starts a formula.
    Result<CsvTable> table = read_csv_file((dir / "out.csv").string());
    ASSERT_TRUE(table.ok());
    ASSERT_EQ(table->records.size(), 3u);
    for (const CsvRecord& r : table->records) {
        for (const std::string& cell : r.fields) {
            ASSERT_FALSE(cell.empty() ? false : std::string("=+-@\t\r").find(cell[0]) != std::string::npos)
                << cell;
        }
    }
    EXPECT_EQ(table->records[0].fields[0], "'=HYPERLINK(\"http://evil.example\",\"click\")");
    EXPECT_EQ(table->records[1].fields[2], "''=already quoted");
    EXPECT_EQ(table->records[2].fields[0], "What is -3 times -4?");  // only the first character counts

    Result<FineTuningData> back = read_fine_tuning_csv((dir / "out.csv").string());
    ASSERT_TRUE(back.ok()) << back.error().message;
    ASSERT_EQ(back->rows.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(back->rows[i].prompt, rows[i].prompt);
        EXPECT_EQ(back->rows[i].model_response, rows[i].model_response);
        EXPECT_EQ(back->rows[i].issues, rows[i].issues);
        EXPECT_EQ(back->rows[i].ideal_response, rows[i].ideal_response);
    }
}

TEST(ExportWrite, TrlWritesPromptCompletionLines) {
    const auto dir = temp_dir("trl");
    const std::vector<FineTuningRow> rows = tricky_rows();
    Result<ExportWritten> written =
        write_export((dir / "out.jsonl").string(), rows, ExportFormat::trl, false);
    ASSERT_TRUE(written.ok());
    std::istringstream lines(read_all(dir / "out.jsonl"));
    std::string line;
    size_t n = 0;
    for (; std::getline(lines, line); ++n) {
        const nlohmann::json object = nlohmann::json::parse(line);
        EXPECT_EQ(object.size(), 2u);
        EXPECT_EQ(object["prompt"], rows[n].prompt);  // JSON is not escaped for spreadsheets
        EXPECT_EQ(object["completion"], rows[n].ideal_response);
    }
    EXPECT_EQ(n, 3u);
}

TEST(ExportWrite, TrlPreferenceTakesTheModelReplyAsRejectedAndSkipsRowsWithoutAPair) {
    const auto dir = temp_dir("preference");
    const std::vector<FineTuningRow> rows = tricky_rows();  // the third row's reply equals its ideal
    Result<ExportWritten> written =
        write_export((dir / "out.jsonl").string(), rows, ExportFormat::trl_preference, false);
    ASSERT_TRUE(written.ok());
    EXPECT_EQ(written->rows, 2u);
    EXPECT_EQ(written->without_pair, 1u);
    std::istringstream lines(read_all(dir / "out.jsonl"));
    std::string line;
    size_t n = 0;
    for (; std::getline(lines, line); ++n) {
        const nlohmann::json object = nlohmann::json::parse(line);
        EXPECT_EQ(object["prompt"], rows[n].prompt);
        EXPECT_EQ(object["chosen"], rows[n].ideal_response);
        EXPECT_EQ(object["rejected"], rows[n].model_response);
    }
    EXPECT_EQ(n, 2u);
}

TEST(ExportWrite, AnUnwritablePathNamesIt) {
    Result<ExportWritten> written =
        write_export("/nonexistent/dir/out.csv", tricky_rows(), ExportFormat::csv, true);
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().code, "write_failed");
    EXPECT_NE(written.error().message.find("/nonexistent/dir/out.csv"), std::string::npos);
}

}  // namespace
}  // namespace mimir::data
