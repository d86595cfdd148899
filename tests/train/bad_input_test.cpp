// Bad input gets a clear error naming the file, row or flag, loses no data and never crashes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "train/merge.h"
#include "train/trainer.h"
#include "train_test_support.h"

namespace mimir {
namespace {

namespace fs = std::filesystem;

std::string write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

class BadInput : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = test::scratch_dir();
        base_ = test::tiny_model_path(test::small_training_spec("phi3"));
        options_.data_path = write_file(dir_ + "/good.csv",
                                        "prompt,model response,issues,ideal response\n"
                                        "Hello!,Hi :),tone,\"Hello! I am Mimir, a tutoring assistant.\"\n"
                                        "What is 2+2?,five,wrong,2 + 2 = 4.\n");
        options_.base_path = base_;
        options_.out_dir = dir_ + "/out";
        options_.epochs = 1;
        options_.eval_fraction = 0;
        options_.n_threads = 1;
        options_.quiet = true;
        options_.write_merged = false;
        options_.system_prompt = "";  // short rows: the context limits below are about the rows
    }
    Error expect_failure(const TrainOptions& options) {
        Result<TrainSummary> result = run_training(options);
        EXPECT_FALSE(result.ok());
        return result.ok() ? Error{} : result.error();
    }
    std::string dir_, base_;
    TrainOptions options_;
};

TEST_F(BadInput, TheGoodOptionsTrain) {
    EXPECT_TRUE(run_training(options_).ok());
}

TEST_F(BadInput, EmptyCsv) {
    options_.data_path = write_file(dir_ + "/empty.csv", "");
    const Error e = expect_failure(options_);
    EXPECT_EQ(e.code, "empty_csv");
    EXPECT_NE(e.message.find("empty.csv"), std::string::npos) << e.message;
}

TEST_F(BadInput, WrongColumns) {
    options_.data_path = write_file(dir_ + "/cols.csv", "question,answer\nhi,hello\n");
    const Error e = expect_failure(options_);
    EXPECT_EQ(e.code, "wrong_columns");
    EXPECT_NE(e.message.find("\"question\""), std::string::npos) << e.message;
}

TEST_F(BadInput, ModelThatIsNotAGguf) {
    options_.base_path = write_file(dir_ + "/model.gguf", "this is not a model at all, just text");
    const Error e = expect_failure(options_);
    EXPECT_FALSE(e.code.empty());
    EXPECT_NE(e.message.find("model.gguf"), std::string::npos) << e.message;
    options_.base_path = dir_ + "/missing.gguf";
    EXPECT_NE(expect_failure(options_).message.find("missing.gguf"), std::string::npos);
}

TEST_F(BadInput, AdapterPathThatIsAFolder) {
    fs::create_directories(options_.out_dir + "/adapter.gguf");
    const Error e = expect_failure(options_);
    EXPECT_EQ(e.code, "bad_output_dir");
    EXPECT_NE(e.message.find("adapter.gguf"), std::string::npos) << e.message;

    auto model = load_base_model(base_);
    ASSERT_TRUE(model.ok());
    Result<std::unique_ptr<LoraAdapter>> adapter = load_lora(dir_, **model);  // `mimir merge --adapter DIR`
    ASSERT_FALSE(adapter.ok());
    EXPECT_NE(adapter.error().message.find(dir_), std::string::npos);
    EXPECT_FALSE(merge_files(base_, dir_, dir_ + "/merged.gguf", MergedType::AsBase).ok());
    EXPECT_FALSE(merge_files(base_, base_, dir_ + "/merged.gguf", MergedType::AsBase).ok())
        << "a model is not an adapter";
}

TEST_F(BadInput, RankZero) {
    options_.rank = 0;
    const Error e = expect_failure(options_);
    EXPECT_EQ(e.code, "bad_option");
    EXPECT_NE(e.message.find("--rank"), std::string::npos);
}

TEST_F(BadInput, OtherBadOptionsNameTheirFlag) {
    for (auto [mutate, flag] : std::vector<std::pair<std::function<void(TrainOptions&)>, std::string>>{
             {[](TrainOptions& o) { o.epochs = 0; }, "--epochs"},
             {[](TrainOptions& o) { o.learning_rate = -1; }, "--lr"},
             {[](TrainOptions& o) { o.eval_fraction = 1.5; }, "--eval-fraction"},
             {[](TrainOptions& o) { o.recompute = {.mode = Recompute::Mode::Lowest, .layers = -3}; },
              "--recompute"},
             {[](TrainOptions& o) { o.targets = {"attn_bogus"}; }, "attn_bogus"},
             {[](TrainOptions& o) { o.targets = {"attn_q"}; }, "attn_q"},  // phi3 has a fused attn_qkv
             {[](TrainOptions& o) {
                  o.full = true;
                  o.base_path = test::tiny_model_path(test::small_training_spec("phi3", "q8_0"));
              },
              "--full"}}) {
        TrainOptions o = options_;
        mutate(o);
        const Error e = expect_failure(o);
        EXPECT_NE(e.message.find(flag), std::string::npos) << flag << ": " << e.message;
    }
}

TEST(RecomputeFlag, ParsesAllNoneOrALayerCountAndNamesTheFlagOtherwise) {
    for (const std::string text : {"all", "none", "0", "3"}) {
        Result<Recompute> parsed = parse_recompute(text);
        ASSERT_TRUE(parsed.ok()) << text;
        EXPECT_EQ(parsed->name(), text);
    }
    EXPECT_EQ(parse_recompute("all")->layer_count(32), 32);
    EXPECT_EQ(parse_recompute("none")->layer_count(32), 0);
    EXPECT_EQ(parse_recompute("3")->layer_count(32), 3);
    EXPECT_EQ(parse_recompute("99")->layer_count(32), 32);
    for (const std::string text : {"some", "-3", "3x", ""}) {
        Result<Recompute> parsed = parse_recompute(text);
        ASSERT_FALSE(parsed.ok()) << text;
        EXPECT_EQ(parsed.error().code, "bad_option");
        EXPECT_NE(parsed.error().message.find("--recompute"), std::string::npos) << parsed.error().message;
    }
}

TEST(MergedTypeFlag, EveryFlagNameParsesToTheTypeThatPrintsItAndNothingElseParses) {
    EXPECT_EQ(merged_types_by_name().size(), 3u);
    for (const auto& [name, type] : merged_types_by_name()) EXPECT_EQ(merged_type_name(type), name);
    EXPECT_EQ(merged_types_by_name().count("q3_weird"), 0u);
    EXPECT_EQ(merged_types_by_name().count("as-base"), 0u) << "the default is not a flag value";
}

TEST_F(BadInput, RowLongerThanTheContextIsSkippedOrStopsWithStrict) {
    std::string long_reply;
    for (int i = 0; i < 60; ++i) long_reply += "word ";
    options_.data_path =
        write_file(dir_ + "/long.csv", "prompt,ideal response\nHi,Hello there.\nTell me,\"" + long_reply +
                                           "\"\nBye,Goodbye.\n,missing prompt\n");
    options_.n_ctx = 40;
    Result<TrainSummary> lenient = run_training(options_);
    ASSERT_TRUE(lenient.ok()) << lenient.error().message;
    EXPECT_EQ(lenient->skipped_rows, 2);
    EXPECT_EQ(lenient->train_rows, 2);
    options_.strict = true;
    const Error e = expect_failure(options_);
    EXPECT_NE(e.message.find("row 4"), std::string::npos) << e.message;  // the first bad row, missing prompt
    options_.data_path = write_file(
        dir_ + "/long2.csv", "prompt,ideal response\nHi,Hello there.\nTell me,\"" + long_reply + "\"\n");
    const Error too_long = expect_failure(options_);
    EXPECT_EQ(too_long.code, "row_too_long");
    EXPECT_NE(too_long.message.find("row 2"), std::string::npos) << too_long.message;
}

TEST_F(BadInput, OutputFolderThatCannotBeCreated) {
    options_.out_dir = "/proc/mimir-cannot-create-this";
    EXPECT_EQ(expect_failure(options_).code, "bad_output_dir");
    options_.out_dir = options_.data_path;  // a file, not a folder
    EXPECT_EQ(expect_failure(options_).code, "bad_output_dir");
}

TEST_F(BadInput, ResumeWithoutACheckpoint) {
    options_.resume = true;
    const Error e = expect_failure(options_);
    EXPECT_NE(e.message.find("checkpoint"), std::string::npos) << e.message;
}

}  // namespace
}  // namespace mimir
