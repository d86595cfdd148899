#include "data/fine_tuning_data.h"

#include <gtest/gtest.h>

#include <set>

#include "support/test_models.h"

namespace mimir {
namespace {

TEST(FineTuningData, MatchesColumnsCaseInsensitivelyInAnyOrder) {
    const std::string text =
        "Ideal Response,ISSUES,Prompt,Model_Response\n"
        "\"Hello! I am Mimir.\",tone,Hello!,\"Hi :)\"\n";
    Result<FineTuningData> data = parse_fine_tuning_csv(text, "mem.csv");
    ASSERT_TRUE(data.ok()) << data.error().message;
    ASSERT_EQ(data->rows.size(), 1u);
    EXPECT_EQ(data->rows[0].prompt, "Hello!");
    EXPECT_EQ(data->rows[0].ideal_response, "Hello! I am Mimir.");
    EXPECT_EQ(data->rows[0].model_response, "Hi :)");
    EXPECT_EQ(data->rows[0].issues, "tone");
    EXPECT_EQ(data->rows[0].row_number, 1);
}

TEST(FineTuningData, WrongColumnsNameWhatWasFound) {
    Result<FineTuningData> data = parse_fine_tuning_csv("question,answer\na,b\n", "bad.csv");
    ASSERT_FALSE(data.ok());
    EXPECT_EQ(data.error().code, "wrong_columns");
    EXPECT_NE(data.error().message.find("\"question\""), std::string::npos);
    EXPECT_NE(data.error().message.find("bad.csv"), std::string::npos);
}

TEST(FineTuningData, BadRowsAreReportedWithRowNumbers) {
    const std::string text =
        "prompt,model response,issues,ideal response\n"
        "p1,r,i,good one\n"
        "p2,r,i,\n"
        ",r,i,ideal\n"
        "p4,bro\"ken,i,x\n"
        "\"p5\nwith newline\",r,i,\"fine\"\n";
    Result<FineTuningData> data = parse_fine_tuning_csv(text, "mem.csv");
    ASSERT_TRUE(data.ok());
    ASSERT_EQ(data->rows.size(), 2u);
    EXPECT_EQ(data->rows[1].prompt, "p5\nwith newline");
    EXPECT_EQ(data->rows[1].row_number, 5);
    ASSERT_EQ(data->problems.size(), 3u);
    EXPECT_EQ(describe(data->problems[0]), "row 2 (line 3): missing ideal response");
    EXPECT_EQ(describe(data->problems[1]), "row 3 (line 4): missing prompt");
    EXPECT_EQ(data->problems[2].row_number, 4);
    EXPECT_NE(data->problems[2].reason.find("quoting"), std::string::npos);
}

TEST(FineTuningData, EmptyAndHeaderOnlyFilesFail) {
    EXPECT_EQ(parse_fine_tuning_csv("", "e.csv").error().code, "empty_csv");
    EXPECT_EQ(parse_fine_tuning_csv("prompt,ideal response\n", "h.csv").error().code, "no_rows");
}

TEST(FineTuningData, CategoryColumnIsOptional) {
    Result<FineTuningData> with =
        parse_fine_tuning_csv("Prompt,Ideal Response,Category\np,i, math \nq,j,\n", "c.csv");
    ASSERT_TRUE(with.ok()) << with.error().message;
    EXPECT_TRUE(with->has_category_column);
    ASSERT_EQ(with->rows.size(), 2u);
    EXPECT_EQ(with->rows[0].category, "math");
    EXPECT_EQ(with->rows[1].category, "");
    Result<FineTuningData> without = parse_fine_tuning_csv("Prompt,Ideal Response\np,i\n", "n.csv");
    ASSERT_TRUE(without.ok());
    EXPECT_FALSE(without->has_category_column);
    EXPECT_EQ(without->rows[0].category, "");
}

TEST(FineTuningData, WrittenRowsReadBackWithAndWithoutCategory) {
    const std::vector<FineTuningRow> rows = {
        {1, 2, "What's 2+2, quickly?", "4!!! :)", "Tone: emoticon.\nPedagogy: gives it away.",
         "Count up from 2.", "math"},
        {2, 5, "hi", "", "", "Hello! What are you working on?", "greeting"},
    };
    for (bool with_category : {true, false}) {
        const std::string path = test::scratch_dir() + "/rows.csv";
        ASSERT_TRUE(write_fine_tuning_csv(path, rows, with_category).ok());
        Result<FineTuningData> data = read_fine_tuning_csv(path);
        ASSERT_TRUE(data.ok()) << data.error().message;
        EXPECT_EQ(data->has_category_column, with_category);
        ASSERT_EQ(data->rows.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
            EXPECT_EQ(data->rows[i].prompt, rows[i].prompt);
            EXPECT_EQ(data->rows[i].model_response, rows[i].model_response);
            EXPECT_EQ(data->rows[i].issues, rows[i].issues);
            EXPECT_EQ(data->rows[i].ideal_response, rows[i].ideal_response);
            EXPECT_EQ(data->rows[i].category, with_category ? rows[i].category : "");
        }
    }
}

TEST(FineTuningData, CommittedDataSetParsesCleanly) {
    Result<FineTuningData> data =
        read_fine_tuning_csv(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning.csv");
    ASSERT_TRUE(data.ok()) << data.error().message;
    EXPECT_GE(data->rows.size(), 130u);
    EXPECT_TRUE(data->problems.empty());
    EXPECT_TRUE(data->has_category_column);
    EXPECT_EQ(data->rows[0].prompt, "Hello!");
    for (const FineTuningRow& row : data->rows)
        EXPECT_FALSE(row.category.empty()) << "row " << row.row_number;
}

TEST(FineTuningData, SampleDataSetStillParses) {
    // The train tests and bench train on this smaller file.
    Result<FineTuningData> data =
        read_fine_tuning_csv(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv");
    ASSERT_TRUE(data.ok()) << data.error().message;
    EXPECT_EQ(data->rows.size(), 14u);
    EXPECT_TRUE(data->problems.empty());
}

TEST(Split, SeededSplitIsDeterministicDisjointAndComplete) {
    TrainEvalSplit a = split_train_eval(17, 0.25, 7);
    TrainEvalSplit b = split_train_eval(17, 0.25, 7);
    EXPECT_EQ(a.train, b.train);
    EXPECT_EQ(a.eval, b.eval);
    EXPECT_EQ(a.eval.size(), 4u);  // the original run's 13 / 4
    EXPECT_EQ(a.train.size(), 13u);
    std::set<size_t> all(a.train.begin(), a.train.end());
    all.insert(a.eval.begin(), a.eval.end());
    EXPECT_EQ(all.size(), 17u);
    TrainEvalSplit other = split_train_eval(17, 0.25, 8);
    EXPECT_NE(a.eval, other.eval);
}

TEST(Split, EdgeCases) {
    EXPECT_EQ(split_train_eval(1, 0.25, 1).train.size(), 1u);
    EXPECT_EQ(split_train_eval(2, 0.25, 1).eval.size(), 1u);
    EXPECT_EQ(split_train_eval(5, 0.0, 1).eval.size(), 0u);
    EXPECT_EQ(split_train_eval(4, 1.0, 1).train.size(), 1u);
}

}  // namespace
}  // namespace mimir
