// A small evaluation end to end on models the test trains itself: the base tier and base + a LoRA adapter
// that memorised three tutoring replies, opened in process as `mimir eval --base --adapter` opens them,
// graded on the rows as a suite, reported and gated.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval/model_reply_source.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "eval/suite.h"
#include "support/test_models.h"
#include "train/run_folder.h"
#include "train/trainer.h"

namespace mimir::eval {
namespace {

namespace fs = std::filesystem;

// The recipe of the train tests' memorising run, shorter: three rows learnt to the token.
TrainOptions memorise(const std::string& csv, const std::string& base, const std::string& out) {
    return TrainOptions{.data_path = csv,
                        .base_path = base,
                        .out_dir = out,
                        .grad_accumulation = 3,
                        .epochs = 120,
                        .learning_rate = 1e-2f,
                        .warmup_ratio = 0.05f,
                        .schedule = Schedule::Linear,
                        .rank = 16,
                        .alpha = 32,
                        .targets = {"all", "output"},
                        .eval_fraction = 0,
                        .n_threads = 1,
                        .system_prompt = "",
                        .quiet = true};
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(LocalTiers, TrainedAdapterPassesWhereTheBaseFailsAndTheGateSaysSo) {
    const std::string dir = test::scratch_dir();
    const std::string base = test::tiny_model_path(test::small_spec());
    const std::string csv = test::write_tutoring_rows_csv(dir);
    Result<TrainSummary> trained = run_training(memorise(csv, base, dir + "/run"));
    ASSERT_TRUE(trained.ok()) << trained.error().message;

    const ModelPaths files{.adapter = RunFolder{dir + "/run"}.adapter(), .base = base};
    const SessionOptions session{.engine = {.n_ctx = 512, .n_parallel = 1, .n_threads = 1}};
    auto base_tier = ModelReplySource::open(
        {.tier = Tier::Base, .paths = paths_for_tier(Tier::Base, files), .session = session});
    auto adapter_tier = ModelReplySource::open(
        {.tier = Tier::Adapter, .paths = paths_for_tier(Tier::Adapter, files), .session = session});
    ASSERT_TRUE(base_tier.ok()) << base_tier.error().message;
    ASSERT_TRUE(adapter_tier.ok()) << adapter_tier.error().message;
    EXPECT_EQ((*adapter_tier)->name(), "adapter");

    Result<Suite> suite = suite_from_csv(csv);
    ASSERT_TRUE(suite.ok()) << suite.error().message;
    Result<PhraseLists> phrases = load_phrase_lists(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks");
    ASSERT_TRUE(phrases.ok()) << phrases.error().message;
    RunOptions options{.samples = 1, .sampling = {.temperature = 0, .max_tokens = 40}, .phrases = *phrases};
    Result<EvalReport> report = run_eval(*suite, {base_tier->get(), adapter_tier->get()}, options);
    ASSERT_TRUE(report.ok()) << report.error().message;
    ASSERT_EQ(report->tiers.size(), 2u);
    const TierResult& adapter = report->tiers[1];
    for (const CaseResult& c : adapter.cases) {
        ASSERT_FALSE(c.samples.empty());
        EXPECT_TRUE(c.passed) << "reply \"" << c.samples[0].reply << "\"";
    }
    EXPECT_EQ(adapter.passed, 3);
    EXPECT_LT(report->tiers[0].passed, adapter.passed) << "the random base should not write tutoring replies";

    ASSERT_TRUE(write_reports(*report, dir + "/report").ok());
    for (const char* file : {"report.json", "report.md", "report.html", "junit.xml"})
        EXPECT_TRUE(fs::is_regular_file(dir + "/report/" + file)) << file;
    const nlohmann::json json = nlohmann::json::parse(read(dir + "/report/report.json"));
    ASSERT_EQ(json["tiers"].size(), 2u);
    EXPECT_EQ(json["tiers"][1]["name"], "adapter");
    EXPECT_EQ(json["tiers"][1]["passed"], adapter.passed);
    EXPECT_NE(format_table(*report).find("adapter"), std::string::npos);

    Result<std::vector<std::string>> below = tiers_below(*report, 0.95, "");
    ASSERT_TRUE(below.ok());
    EXPECT_EQ(*below, std::vector<std::string>{"base"});
}

TEST(LocalTiers, ATierThatDoesNotLoadItselfIsRefusedWithTheReason) {
    const std::string base = test::tiny_model_path(test::small_spec());
    const ModelPaths files{.adapter = test::scratch_dir() + "/missing-adapter.gguf", .base = base};
    auto source =
        ModelReplySource::open({.tier = Tier::Adapter, .paths = paths_for_tier(Tier::Adapter, files)});
    ASSERT_FALSE(source.ok()) << "a fallback to the base must not pass for the adapter tier";
    EXPECT_EQ(source.error().code, "tier_not_loaded");
    EXPECT_NE(source.error().message.find("missing-adapter.gguf"), std::string::npos)
        << source.error().message;
}

}  // namespace
}  // namespace mimir::eval
