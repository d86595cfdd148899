// promotions.jsonl: records survive a round trip, a line cut by a crash is reported and skipped, and the
// history table shows each decision.
#include "promote/promotion_log.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_models.h"

namespace mimir::promote {
namespace {

PromotionRecord promoted() {
    return PromotionRecord{.time = "2026-12-01T19:30:00Z",
                           .decision = Decision::Promoted,
                           .reason = "accuracy 1.000 >= 0.950",
                           .data_sha256 = "aa",
                           .base_sha256 = "bb",
                           .candidate_sha256 = "cc",
                           .generation = "0001",
                           .candidate_dir = "generations/0001",
                           .report = "generations/0001/eval-report/report.json",
                           .summary = {{"candidate_accuracy", 1.0}},
                           .reload = ReloadOutcome::Failed,
                           .reload_error = "http://127.0.0.1:1 did not answer"};
}

TEST(PromotionLog, RecordsRoundTripInOrder) {
    const std::string log = test::scratch_dir() + "/promotions.jsonl";
    ASSERT_TRUE(append_record(log, promoted()).ok());
    PromotionRecord refused = promoted();
    refused.decision = Decision::Refused;
    refused.reload = ReloadOutcome::NotRequested;
    refused.reload_error.clear();
    ASSERT_TRUE(append_record(log, refused).ok());
    Result<PromotionHistory> history = read_history(log);
    ASSERT_TRUE(history.ok()) << history.error().message;
    ASSERT_EQ(history->records.size(), 2u);
    EXPECT_EQ(record_to_json(history->records[0]), record_to_json(promoted()));
    EXPECT_EQ(history->records[1].decision, Decision::Refused);
    EXPECT_TRUE(history->unreadable_lines.empty());
}

TEST(PromotionLog, ALineCutByACrashIsSkippedAndNamed) {
    const std::string log = test::scratch_dir() + "/promotions.jsonl";
    ASSERT_TRUE(append_record(log, promoted()).ok());
    std::ofstream(log, std::ios::app) << "{\"time\": \"2026-";
    ASSERT_TRUE(append_record(log, promoted()).ok());
    Result<PromotionHistory> history = read_history(log);
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->records.size(), 2u);
    EXPECT_EQ(history->unreadable_lines, std::vector<int>{2});
    EXPECT_NE(format_history(*history).find("line 2"), std::string::npos);
}

TEST(PromotionLog, NoLogIsAnEmptyHistory) {
    Result<PromotionHistory> history = read_history(test::scratch_dir() + "/none.jsonl");
    ASSERT_TRUE(history.ok());
    EXPECT_TRUE(history->records.empty());
    EXPECT_NE(format_history(*history).find("no promotions"), std::string::npos);
}

TEST(PromotionLog, TheTableShowsDecisionGenerationAccuracyAndReload) {
    const std::string table = format_history(PromotionHistory{.records = {promoted()}});
    for (const char* text : {"promoted", "0001", "1.000", "failed", "accuracy 1.000 >= 0.950"})
        EXPECT_NE(table.find(text), std::string::npos) << text << " in\n" << table;
}

}  // namespace
}  // namespace mimir::promote
