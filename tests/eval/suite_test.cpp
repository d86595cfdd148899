#include "eval/suite.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "eval/checks.h"
#include "support/test_models.h"

namespace mimir::eval {
namespace {

TEST(Suite, ParsesEveryField) {
    const std::string text =
        R"({"id":"a","category":"math","prompt":"Solve 3x+5=20","history":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello."}],)"
        R"("expect_any":["subtract"],"expect_regex":"both\\s+sides","must_not":["x = 5"],"word_budget":80,"homework":true,"answer":"5","reference":"Let's solve it."})"
        "\n\n# a comment\n"
        R"({"prompt":"Hello!"})"
        "\n";
    auto suite = parse_suite(text, "s.jsonl");
    ASSERT_TRUE(suite.ok()) << suite.error().message;
    ASSERT_EQ(suite->cases.size(), 2u);
    const EvalCase& a = suite->cases[0];
    EXPECT_EQ(a.category, "math");
    EXPECT_EQ(a.history.size(), 2u);
    EXPECT_EQ(a.conversation().back().content, "Solve 3x+5=20");
    EXPECT_EQ(a.conversation().size(), 3u);
    EXPECT_EQ(a.word_budget, 80);
    EXPECT_TRUE(a.homework);
    EXPECT_EQ(a.answer, "5");
    EXPECT_EQ(suite->cases[1].id, "line-4");
    EXPECT_EQ(suite->cases[1].line, 4);  // messages name the line (mimir dataset export's refusals)
    EXPECT_EQ(suite->cases[1].category, "general");
}

void expect_error_at_line(const std::string& text, int line, const std::string& words) {
    auto suite = parse_suite(text, "s.jsonl");
    ASSERT_FALSE(suite.ok()) << text;
    EXPECT_EQ(suite.error().code, "invalid_suite");
    EXPECT_NE(suite.error().message.find("s.jsonl line " + std::to_string(line) + ":"), std::string::npos)
        << suite.error().message;
    EXPECT_NE(suite.error().message.find(words), std::string::npos) << suite.error().message;
}

TEST(Suite, ErrorsNameTheLine) {
    const std::string good = R"({"prompt":"Hello!"})"
                             "\n";
    expect_error_at_line(good + "{\"prompt\": \"unterminated\n", 2, "malformed JSON");
    expect_error_at_line(good + good + R"({"category":"x"})", 3, "missing prompt");
    expect_error_at_line(good + R"({"prompt":"p","word_budget":"ten"})", 2, "word_budget");
    expect_error_at_line(good + R"({"prompt":"p","expect_any":"one"})", 2, "expect_any");
    expect_error_at_line(good + R"({"prompt":"p","homework":"yes"})", 2, "homework");
    expect_error_at_line(good + R"({"prompt":"p","colour":"red"})", 2, "unknown field \"colour\"");
    expect_error_at_line(good + R"({"prompt":"p","expect_regex":"(unclosed"})", 2, "invalid expect_regex");
    expect_error_at_line(R"({"id":"a","prompt":"p"})"
                         "\n"
                         R"({"id":"a","prompt":"q"})",
                         2, "duplicate id");
    expect_error_at_line(good + R"({"prompt":"p","history":[{"role":"robot","content":"x"}]})", 2, "robot");
}

TEST(Suite, EmptySuiteAndMissingFileAreErrors) {
    EXPECT_FALSE(parse_suite("\n# nothing\n", "s.jsonl").ok());
    auto missing = read_suite("/nonexistent/suite.jsonl");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message.find("/nonexistent/suite.jsonl"), std::string::npos);
}

TEST(Suite, FromCsvMakesOneCasePerRowWithTheIdealAsReference) {
    const std::string path = std::string(MIMIR_TEST_SOURCE_DIR) + "/data/mimir_fine_tuning_sample.csv";
    auto suite = suite_from_csv(path);
    ASSERT_TRUE(suite.ok()) << suite.error().message;
    ASSERT_GT(suite->cases.size(), 5u);
    const EvalCase& first = suite->cases[0];
    EXPECT_EQ(first.id, "row-1");
    EXPECT_EQ(first.prompt, "Hello!");
    EXPECT_NE(first.reference.find("Mimir"), std::string::npos);
    EXPECT_FALSE(first.homework);
    EXPECT_TRUE(suite->cases[1].homework);  // "Can you just give me the answer to ..."
    EXPECT_NE(std::find(first.checks.begin(), first.checks.end(), "tone.no_emoticons"), first.checks.end());
    EXPECT_EQ(std::find(first.checks.begin(), first.checks.end(), "content.expected_parts"),
              first.checks.end());
}

TEST(Suite, FromCsvReadsACategoryColumn) {
    const auto path = std::filesystem::temp_directory_path() / "mimir_eval_category.csv";
    std::ofstream(path)
        << "Prompt,Model Response,Issues,Ideal Response,Category\nhi,Yo!!!,loud,Hello.,greeting\n";
    auto suite = suite_from_csv(path.string());
    ASSERT_TRUE(suite.ok()) << suite.error().message;
    EXPECT_EQ(suite->cases[0].category, "greeting");
    std::filesystem::remove(path);
}

// The committed suite parses, and its reference replies (what a person would accept) pass every gating
// check: a case that its own reference fails is a broken case or a broken check.
TEST(Suite, CommittedSuiteParsesAndItsReferencesPass) {
    auto suite = read_suite(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/eval_suite.jsonl");
    ASSERT_TRUE(suite.ok()) << suite.error().message;
    auto phrases = load_phrase_lists(std::string(MIMIR_TEST_SOURCE_DIR) + "/data/checks");
    ASSERT_TRUE(phrases.ok());
    int with_reference = 0;
    for (const EvalCase& c : suite->cases) {
        if (c.reference.empty()) continue;
        ++with_reference;
        for (const CheckInfo& check : check_registry()) {
            if (!check.gates) continue;
            const CheckResult result = check.run({c, c.reference, *phrases});
            EXPECT_FALSE(result.failed()) << c.id << " " << check.name << ": " << result.reason;
        }
    }
    EXPECT_GT(with_reference, 0);
}

}  // namespace
}  // namespace mimir::eval
