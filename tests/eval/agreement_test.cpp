// The checks against the human labels of the committed data set: the goals of `mimir eval --check-data`.
#include "eval/agreement.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_models.h"

namespace mimir::eval {
namespace {

const std::string kDataSet = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning.csv";

PhraseLists phrases() {
    return *load_phrase_lists(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks");
}

TEST(Agreement, ChecksAgreeWithThePeopleWhoLabelledTheDataSet) {
    auto report = check_agreement(kDataSet, phrases());
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_GE(report->ideal_pass_share(), kIdealPassGoal) << format_agreement(*report);
    EXPECT_GE(report->bad_caught_share(), kBadCaughtGoal) << format_agreement(*report);
}

TEST(Agreement, CountsFiringsPerColumn) {
    const auto path = std::filesystem::temp_directory_path() / "mimir_eval_agreement.csv";
    std::ofstream(path) << "Prompt,Model Response,Issues,Ideal Response\n"
                           "hi,Hello!!! :),loud,Hello. What would you like to study?\n"
                           "bye,Bye.,fine,Goodbye :)\n";
    auto report = check_agreement(path.string(), phrases());
    std::filesystem::remove(path);
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ(report->rows, 2);
    EXPECT_EQ(report->ideal_passing, 1);
    EXPECT_EQ(report->bad_caught, 1);
    const auto emoticons =
        std::find_if(report->checks.begin(), report->checks.end(),
                     [](const CheckAgreement& c) { return c.name == "tone.no_emoticons"; });
    ASSERT_NE(emoticons, report->checks.end());
    EXPECT_EQ(emoticons->fired_on_ideal, 1);
    EXPECT_EQ(emoticons->fired_on_bad, 1);
    EXPECT_EQ(emoticons->ideal_examples.at(0).rfind("row 2:", 0), 0u);
    const std::string text = format_agreement(*report);
    EXPECT_NE(text.find("0.500"), std::string::npos);
    EXPECT_NE(text.find("BELOW GOAL"), std::string::npos);
}

}  // namespace
}  // namespace mimir::eval
