#include "data/fine_tuning_data.h"

#include <gtest/gtest.h>

#include <set>

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

TEST(FineTuningData, SampleDataSetParsesCleanly) {
    Result<FineTuningData> data =
        read_fine_tuning_csv(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv");
    ASSERT_TRUE(data.ok()) << data.error().message;
    EXPECT_GE(data->rows.size(), 13u);
    EXPECT_TRUE(data->problems.empty());
    EXPECT_EQ(data->rows[0].prompt, "Hello!");
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
