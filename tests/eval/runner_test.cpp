// The runner and the reports, with fake reply sources: no model needed.
#include "eval/runner.h"

#include <gtest/gtest.h>
#include <spdlog/fmt/fmt.h>

#include <filesystem>

#include "eval/report.h"
#include "support/test_models.h"

namespace mimir::eval {
namespace {

// Replies from a fixed function of the prompt and the sampling; counts its calls.
class FakeSource : public ReplySource {
  public:
    FakeSource(std::string name,
               std::function<std::string(const std::string& prompt, const SamplingParams&)> answer)
        : name_(std::move(name)), answer_(std::move(answer)) {}
    std::string name() const override { return name_; }
    Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                              const SamplingParams& sampling) override {
        ++calls;
        seeds.push_back(sampling.seed);
        temperatures.push_back(sampling.temperature);
        if (fail_after >= 0 && calls > fail_after)
            return Error{"unreachable", name_ + ": connection refused"};
        return answer_(conversation.back().content, sampling);
    }
    int calls = 0;
    int fail_after = -1;
    std::vector<uint32_t> seeds;
    std::vector<float> temperatures;

  private:
    std::string name_;
    std::function<std::string(const std::string&, const SamplingParams&)> answer_;
};

Suite make_suite(int cases) {
    Suite suite{.source = "fake.jsonl"};
    for (int i = 0; i < cases; ++i) {
        suite.cases.push_back({.id = "case-" + std::to_string(i),
                               .category = i % 2 ? "odd" : "even",
                               .prompt = "Question " + std::to_string(i),
                               .expect_any = {"answer"},
                               .reference = "A calm answer."});
    }
    return suite;
}

RunOptions options_with(int samples) {
    RunOptions options{.samples = samples, .seed = 7};
    options.phrases = *load_phrase_lists(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks");
    return options;
}

// Good replies, except an emoticon for every third case (a case fails when any sample fails).
std::string mostly_good(const std::string& prompt, const SamplingParams& sampling) {
    const int number = std::stoi(prompt.substr(prompt.find(' ') + 1));
    if (number % 3 == 0 && sampling.temperature > 0) return "A calm answer :) Really.";
    return "A calm answer.";
}

TEST(Runner, ACasePassesOnlyWhenEverySamplePasses) {
    FakeSource good("good",
                    [](const std::string&, const SamplingParams&) { return std::string("A calm answer."); });
    FakeSource flaky("flaky", mostly_good);
    const Suite suite = make_suite(9);
    auto report = run_eval(suite, {&good, &flaky}, options_with(3));
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ(good.calls, 27);
    EXPECT_EQ(report->tiers[0].passed, 9);
    EXPECT_EQ(report->tiers[1].passed, 6);  // cases 0, 3, 6 fail on a sampled reply
    EXPECT_EQ(report->tiers[1].by_check.at("tone.no_emoticons").passed, 6);
    EXPECT_EQ(report->tiers[1].cases[0].failing_checks, std::vector<std::string>{"tone.no_emoticons"});
    EXPECT_EQ(report->comparisons.at(0).only_first, 3);
    EXPECT_EQ(report->comparisons.at(0).only_second, 0);
    EXPECT_NEAR(report->comparisons.at(0).p_value, 0.25, 1e-12);
    EXPECT_EQ(good.temperatures[0], 0);  // greedy first
    EXPECT_GT(good.temperatures[1], 0);
}

TEST(Runner, SeedsDependOnTheRunSeedOnly) {
    EXPECT_EQ(sample_seed(7, "case-1", 1), sample_seed(7, "case-1", 1));
    EXPECT_NE(sample_seed(7, "case-1", 1), sample_seed(7, "case-1", 2));
    EXPECT_NE(sample_seed(7, "case-1", 1), sample_seed(8, "case-1", 1));
    FakeSource first("t", mostly_good), second("t", mostly_good);
    auto a = run_eval(make_suite(4), {&first}, options_with(3));
    auto b = run_eval(make_suite(4), {&second}, options_with(3));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(first.seeds, second.seeds);
    EXPECT_EQ(report_to_json(*a).dump(), report_to_json(*b).dump());
}

TEST(Runner, AFailingTierIsAnErrorForThatTierOnly) {
    FakeSource good("good",
                    [](const std::string&, const SamplingParams&) { return std::string("A calm answer."); });
    FakeSource broken("broken", mostly_good);
    broken.fail_after = 4;
    auto report = run_eval(make_suite(6), {&broken, &good}, options_with(2));
    ASSERT_TRUE(report.ok());
    EXPECT_NE(report->tiers[0].error.find("connection refused"), std::string::npos);
    EXPECT_EQ(broken.calls, 5);
    EXPECT_EQ(report->tiers[1].passed, 6);
    EXPECT_EQ(report->completed, 6);
    EXPECT_LT(report->tiers[0].accuracy(report->completed), 0.5);
    EXPECT_NE(format_table(*report).find("connection refused"), std::string::npos);
}

TEST(Runner, StopFinishesTheCurrentReplyAndMarksThePartialReport) {
    std::atomic<bool> stop{false};
    FakeSource source("t", [&stop](const std::string& prompt, const SamplingParams&) {
        if (prompt == "Question 2") stop = true;  // as if Ctrl-C came during this reply
        return std::string("A calm answer.");
    });
    RunOptions options = options_with(2);
    options.stop = &stop;
    auto report = run_eval(make_suite(5), {&source}, options);
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->partial);
    EXPECT_EQ(source.calls, 5);  // cases 0 and 1 fully, the first reply of case 2
    EXPECT_EQ(report->completed, 2);
    EXPECT_EQ(report->tiers[0].cases.size(), 2u);
    EXPECT_EQ(report->tiers[0].passed, 2);
    EXPECT_TRUE(report_to_json(*report)["partial"].get<bool>());
    EXPECT_NE(report_html(*report).find("Partial report"), std::string::npos);
}

TEST(Runner, UnknownCheckNamesAreAnError) {
    FakeSource source("t", mostly_good);
    RunOptions options = options_with(1);
    options.checks = {"tone.no_emoticons", "bogus"};
    auto report = run_eval(make_suite(1), {&source}, options);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.error().code, "unknown_check");
}

TEST(Reports, JsonAgreesWithTheTerminalTable) {
    FakeSource good("good",
                    [](const std::string&, const SamplingParams&) { return std::string("A calm answer."); });
    FakeSource flaky("flaky", mostly_good);
    auto report = run_eval(make_suite(7), {&good, &flaky}, options_with(2));
    ASSERT_TRUE(report.ok());
    const nlohmann::json json = report_to_json(*report);
    const std::string table = format_table(*report);
    for (const auto& tier : json["tiers"]) {
        const std::string accuracy =
            fmt::format("{:.3f} ({}/{})", tier["accuracy"].get<double>(), tier["passed"].get<int>(), 7);
        EXPECT_NE(table.find(accuracy), std::string::npos) << accuracy << "\n" << table;
        const auto& emoticons = tier["by_check"]["tone.no_emoticons"];
        const std::string rate = fmt::format("{:.3f} ({})", emoticons["pass_rate"].get<double>(),
                                             emoticons["applicable"].get<int>());
        EXPECT_NE(table.find(rate), std::string::npos) << rate;
        EXPECT_NE(table.find(fmt::format("[{:.3f}, {:.3f}]", tier["interval"]["low"].get<double>(),
                                         tier["interval"]["high"].get<double>())),
                  std::string::npos);
    }
    EXPECT_NE(table.find(fmt::format("p = {:.4f}", json["comparisons"][0]["mcnemar_p"].get<double>())),
              std::string::npos);
}

TEST(Reports, FilesAreWrittenAndEscaped) {
    FakeSource hostile("<b>tier</b>", [](const std::string&, const SamplingParams&) {
        return std::string("<script>alert('x')</script> & answer :)");
    });
    auto report = run_eval(make_suite(2), {&hostile}, options_with(1));
    ASSERT_TRUE(report.ok());
    const auto dir = std::filesystem::temp_directory_path() / "mimir_eval_reports_test";
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(write_reports(*report, dir.string()).ok());
    for (const char* name : {"report.json", "report.md", "report.html", "junit.xml"}) {
        EXPECT_GT(std::filesystem::file_size(dir / name), 0u) << name;
    }
    const std::string html = report_html(*report);
    EXPECT_EQ(html.find("<script>"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("tone.no_emoticons"), std::string::npos);
    const std::string junit = report_junit(*report);
    EXPECT_EQ(junit.find("<b>"), std::string::npos);
    EXPECT_NE(junit.find("<testcase"), std::string::npos);
    EXPECT_NE(junit.find("<failure"), std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST(Reports, ThresholdListsTheTiersBelow) {
    FakeSource good("good",
                    [](const std::string&, const SamplingParams&) { return std::string("A calm answer."); });
    FakeSource flaky("flaky", mostly_good);
    auto report = run_eval(make_suite(6), {&good, &flaky}, options_with(2));
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(*tiers_below(*report, 0.95), std::vector<std::string>{"flaky"});
    EXPECT_TRUE(tiers_below(*report, 0.95, "good")->empty());
    EXPECT_TRUE(tiers_below(*report, 0.5)->empty());
    EXPECT_FALSE(tiers_below(*report, 0.5, "nope").ok());
}

}  // namespace
}  // namespace mimir::eval
