// mimir promote end to end on tiny models the test trains itself: a first promotion into an empty folder,
// a candidate below the gate kept beside with its report, rollback and history, a flipped byte in a
// promoted model refused at load, and a promotion killed at each step (the mimir executable, with
// MIMIR_PROMOTE_CRASH_AT) leaving a complete, loadable generation that a rerun and a rollback build on.
#include "promote/promoter.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "model/file_manifest.h"
#include "model/model_manager.h"
#include "promote/models_folder.h"
#include "support/sha256.h"
#include "support/test_models.h"
#include "train/run_folder.h"

namespace mimir::promote {
namespace {

namespace fs = std::filesystem;

struct Fixture {
    std::string dir = test::scratch_dir();
    std::string models = dir + "/models";
    std::string base = test::tiny_model_path(test::small_spec());
    std::string csv = test::write_tutoring_rows_csv(dir);
    std::string phrases = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks";

    // `epochs` 120 memorises the three rows (the local eval tests' recipe); 1 learns nothing.
    PromoteOptions options(int epochs, double min_accuracy) const {
        PromoteOptions o{.models_dir = models,
                         .train = {.data_path = csv,
                                   .base_path = base,
                                   .grad_accumulation = 3,
                                   .epochs = epochs,
                                   .learning_rate = 1e-2f,
                                   .warmup_ratio = 0.05f,
                                   .schedule = Schedule::Linear,
                                   .rank = 16,
                                   .alpha = 32,
                                   .targets = {"all", "output"},
                                   .eval_fraction = 0,
                                   .n_threads = 1,
                                   .system_prompt = "",
                                   .quiet = true},
                         .suite_csv = csv,
                         .eval = {.samples = 1, .sampling = {.temperature = 0, .max_tokens = 40}},
                         .engine = {.n_ctx = 512, .n_parallel = 1, .n_threads = 1},
                         .gate = {.min_accuracy = min_accuracy}};
        o.eval.phrases = *eval::load_phrase_lists(phrases);
        return o;
    }

    // The mimir command line of options(1, 0): a quick candidate that always passes the gate.
    std::string quick_command() const {
        return std::string(MIMIR_EXECUTABLE) + " promote --models '" + models + "' --data '" + csv +
               "' --base '" + base + "' --suite-from-csv '" + csv + "' --phrases '" + phrases +
               "' --min-accuracy 0 --epochs 1 --grad-accumulation 3 --eval-fraction 0 --threads 1 "
               "--system-prompt none --samples 1 --max-tokens 20 --eval-ctx 512 2>>'" +
               dir + "/mimir.log' >/dev/null";
    }
};

std::string current_of(const ModelsFolder& folder) {
    auto current = folder.current();
    return current.ok() && current->has_value() ? **current : "";
}

std::vector<PromotionRecord> records_of(const ModelsFolder& folder) {
    Result<PromotionHistory> history = read_history(folder.promotions_log());
    return history.ok() ? history->records : std::vector<PromotionRecord>{};
}

// What a server started with --models DIR --base BASE would serve now.
ModelInfo served(const Fixture& f) {
    ModelManager manager(ModelsFolder(f.models).served_paths(f.base));
    return manager.load_with_fallback();
}

int exit_status_of(const std::string& command, const std::string& crash_at = "") {
    const std::string line = (crash_at.empty() ? "" : "MIMIR_PROMOTE_CRASH_AT=" + crash_at + " ") + command;
    const int status = std::system(line.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Promote, AFirstPromotionInstallsRecordsAndServesTheCandidate) {
    const Fixture f;
    Result<PromotionRecord> record = run_promotion(f.options(120, 0.95));
    ASSERT_TRUE(record.ok()) << record.error().message;
    EXPECT_EQ(record->decision, Decision::Promoted) << record->reason;
    EXPECT_EQ(record->generation, "0001");
    EXPECT_NE(record->reason.find("no current generation"), std::string::npos) << record->reason;

    const ModelsFolder folder(f.models);
    EXPECT_EQ(current_of(folder), "0001");
    const std::string generation = folder.generation_dir("0001");
    EXPECT_TRUE(fs::is_regular_file(generation + "/eval-report/report.json"));
    const auto records = records_of(folder);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].data_sha256, *sha256_file(f.csv));
    EXPECT_EQ(records[0].base_sha256, *sha256_file(f.base));
    EXPECT_EQ(records[0].candidate_sha256, *sha256_file(RunFolder{generation}.fine_tuned()));
    EXPECT_EQ(records[0].report, "generations/0001/eval-report/report.json");
    EXPECT_DOUBLE_EQ(records[0].summary.at("candidate_accuracy").get<double>(), 1.0);

    const ModelInfo info = served(f);
    EXPECT_EQ(info.tier, Tier::FineTuned) << info.error;
    EXPECT_EQ(info.file_sha256, records[0].candidate_sha256);

    // GGUF has no checksum: the manifest is what notices a flipped byte in the weights.
    const std::string weights = RunFolder{generation}.fine_tuned();
    {
        std::fstream file(weights, std::ios::in | std::ios::out | std::ios::binary);
        file.seekg(-64, std::ios::end);
        const char byte = static_cast<char>(file.get());
        file.seekp(-64, std::ios::end);
        file.put(static_cast<char>(byte ^ 0x01));
    }
    const ModelInfo damaged = served(f);
    ASSERT_FALSE(damaged.attempts.empty());
    EXPECT_EQ(damaged.attempts[0].error.code, "checksum_mismatch");
    EXPECT_EQ(damaged.tier, Tier::Adapter) << "the generation's adapter serves instead";
}

TEST(Promote, ACandidateBelowTheGateIsKeptBesideAndNothingChanges) {
    const Fixture f;
    ASSERT_EQ(run_promotion(f.options(1, 0))->decision, Decision::Promoted);
    const ModelsFolder folder(f.models);
    const std::string served_before = served(f).file_sha256;

    Result<PromotionRecord> record = run_promotion(f.options(1, 1.0));
    ASSERT_TRUE(record.ok()) << record.error().message;
    EXPECT_EQ(record->decision, Decision::Refused);
    EXPECT_NE(record->reason.find("below the minimum"), std::string::npos) << record->reason;
    EXPECT_EQ(current_of(folder), "0001");
    EXPECT_EQ(record->generation, "0001");
    EXPECT_TRUE(record->summary.contains("current_accuracy")) << "evaluated against the current generation";
    ASSERT_EQ(record->candidate_dir.rfind("candidates/", 0), 0u) << record->candidate_dir;
    EXPECT_TRUE(fs::is_regular_file(f.models + "/" + record->report)) << record->report;
    EXPECT_TRUE(fs::is_regular_file(f.models + "/" + record->candidate_dir + "/fine-tuned.gguf"));
    EXPECT_EQ(served(f).file_sha256, served_before);
    EXPECT_EQ(records_of(folder).size(), 2u);
}

TEST(Promote, RollbackPutsThePreviousGenerationBackAndHistoryListsEverything) {
    const Fixture f;
    EXPECT_EQ(run_rollback(f.dir, {}).error().code, "nothing_to_roll_back");
    ASSERT_EQ(run_promotion(f.options(1, 0))->decision, Decision::Promoted);
    EXPECT_EQ(run_rollback(f.models, {}).error().code, "nothing_to_roll_back");
    ASSERT_EQ(run_promotion(f.options(1, 0))->decision, Decision::Promoted);
    const ModelsFolder folder(f.models);
    EXPECT_EQ(current_of(folder), "0002");

    Result<PromotionRecord> back = run_rollback(f.models, {.url = "http://127.0.0.1:1"});
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->generation, "0001");
    EXPECT_EQ(back->replaced_generation, "0002");
    EXPECT_EQ(back->reload, ReloadOutcome::Failed) << "no server there: reported, the rollback stands";
    EXPECT_EQ(current_of(folder), "0001");
    EXPECT_EQ(served(f).file_sha256, back->candidate_sha256);

    const auto records = records_of(folder);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].decision, Decision::Promoted);
    EXPECT_EQ(records[1].decision, Decision::Promoted);
    EXPECT_EQ(records[1].current_sha256, records[0].candidate_sha256);
    EXPECT_EQ(records[2].decision, Decision::RolledBack);
    EXPECT_EQ(records[2].reload, ReloadOutcome::Failed);
}

class PromotionKilled : public ::testing::TestWithParam<const char*> {};

TEST_P(PromotionKilled, AtEachStepLeavesACompleteGenerationServingAndARerunPromotes) {
    const Fixture f;
    ASSERT_EQ(run_promotion(f.options(1, 0))->decision, Decision::Promoted);
    const ModelsFolder folder(f.models);

    EXPECT_EQ(exit_status_of(f.quick_command(), GetParam()), 86) << "see " << f.dir << "/mimir.log";
    const std::string now = current_of(folder);
    ASSERT_FALSE(now.empty());
    const ModelInfo info = served(f);
    EXPECT_EQ(info.tier, Tier::FineTuned) << info.error;
    EXPECT_EQ(info.file_sha256, *sha256_file(RunFolder{folder.generation_dir(now)}.fine_tuned()));

    ASSERT_EQ(exit_status_of(f.quick_command()), 0) << "see " << f.dir << "/mimir.log";
    EXPECT_NE(current_of(folder), now);
    EXPECT_EQ(served(f).tier, Tier::FineTuned);
    EXPECT_EQ(records_of(folder).back().decision, Decision::Promoted);
    ASSERT_TRUE(run_rollback(f.models, {}).ok());
    EXPECT_EQ(current_of(folder), now);
}

INSTANTIATE_TEST_SUITE_P(Steps, PromotionKilled,
                         ::testing::Values("trained", "evaluated", "installed", "switched"));

}  // namespace
}  // namespace mimir::promote
