#include "data/dataset_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "support/system.h"

namespace mimir {
namespace {

FineTuningRow row(int number, std::string prompt, std::string category = "", std::string issues = "") {
    FineTuningRow r;
    r.row_number = number;
    r.line = number + 1;
    r.prompt = std::move(prompt);
    r.ideal_response = "Let's work through it together.";
    r.category = std::move(category);
    r.issues = std::move(issues);
    return r;
}

TEST(PromptComparison, NormalisesCasePunctuationAndSpacing) {
    EXPECT_EQ(normalize_prompt("  What's 2+2?\n"), "what s 2 2");
    EXPECT_EQ(normalize_prompt("HELLO,   world!!"), "hello world");
    EXPECT_EQ(normalize_prompt("?!"), "");
}

TEST(PromptComparison, TrigramJaccardNeedsThreeWords) {
    EXPECT_DOUBLE_EQ(trigram_jaccard("a b c d", "a b c d"), 1.0);
    // {abc, bcd} vs {abc, bce}: one shared of three.
    EXPECT_NEAR(trigram_jaccard("a b c d", "a b c e"), 1.0 / 3.0, 1e-9);
    EXPECT_DOUBLE_EQ(trigram_jaccard("hi there", "hi there"), 0.0);
    EXPECT_DOUBLE_EQ(trigram_jaccard("one two three", "four five six"), 0.0);
}

TEST(Duplicates, FindsExactAndNearPairsButNotDistinctPrompts) {
    const std::vector<FineTuningRow> rows = {
        row(1, "What is photosynthesis?"),
        row(2, "what is   PHOTOSYNTHESIS"),
        row(3, "Can you explain how plants turn sunlight carbon dioxide and water into glucose today"),
        row(4, "Can you explain how plants turn sunlight carbon dioxide and water into glucose today please"),
        row(5, "Why is the sky blue?"),
    };
    const std::vector<DuplicatePrompts> found = find_duplicate_prompts(rows);
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[0].first_row, 1);
    EXPECT_EQ(found[0].second_row, 2);
    EXPECT_EQ(found[0].match, PromptMatch::exact);
    EXPECT_EQ(found[1].first_row, 3);
    EXPECT_EQ(found[1].second_row, 4);
    EXPECT_EQ(found[1].match, PromptMatch::near);
    EXPECT_GE(found[1].jaccard, kNearDuplicateJaccard);
    EXPECT_LT(found[1].jaccard, 1.0);
    EXPECT_TRUE(find_duplicate_prompts(rows, 1.01).size() == 1u);  // only the exact pair is left
}

TEST(PromptIndex, AgreesWithThePairwiseComparisonAndReportsPositions) {
    PromptIndex index;
    index.add("What is photosynthesis?");
    index.add("Can you explain how plants turn sunlight carbon dioxide and water into glucose today");
    index.add("Why is the sky blue?");
    index.add("WHAT is photosynthesis");
    const std::vector<PromptIndex::Match> exact = index.matches("what is photosynthesis!");
    ASSERT_EQ(exact.size(), 2u);
    EXPECT_EQ(exact[0].position, 0u);
    EXPECT_EQ(exact[1].position, 3u);
    EXPECT_EQ(exact[0].match, PromptMatch::exact);
    const std::vector<PromptIndex::Match> near = index.matches(
        "Can you explain how plants turn sunlight carbon dioxide and water into glucose today please");
    ASSERT_EQ(near.size(), 1u);
    EXPECT_EQ(near[0].position, 1u);
    EXPECT_EQ(near[0].match, PromptMatch::near);
    EXPECT_DOUBLE_EQ(
        near[0].jaccard,
        trigram_jaccard("Can you explain how plants turn sunlight carbon dioxide and water into glucose "
                        "today please",
                        "Can you explain how plants turn sunlight carbon dioxide and water into glucose "
                        "today"));
    EXPECT_TRUE(index.matches("How do magnets work?").empty());
    EXPECT_EQ(index.size(), 4u);
}

// Prefix filtering must find exactly what comparing every pair finds: random prompts over a small vocabulary
// (so many share trigrams and many pairs sit near the threshold), with and without a corpus.
TEST(PromptIndex, FindsExactlyTheMatchesOfAnAllPairsComparison) {
    const std::vector<std::string> words = {"the", "cat", "sat", "on", "a", "mat", "and", "dog"};
    SplitMix64 random(7);
    std::vector<std::string> prompts;
    for (int i = 0; i < 400; ++i) {
        std::string prompt;
        if (i > 0 && random.next() % 2 == 0) {
            prompt = prompts[random.next() % prompts.size()];  // a variant of an earlier prompt
            prompt += " " + words[random.next() % words.size()];
        } else {
            const size_t length = 2 + random.next() % 12;
            for (size_t w = 0; w < length; ++w)
                prompt += (w ? " " : "") + words[random.next() % words.size()];
        }
        prompts.push_back(prompt);
    }
    const std::vector<std::string_view> corpus(prompts.begin(), prompts.end());
    for (double threshold : {0.5, kNearDuplicateJaccard, 0.9}) {
        for (bool with_corpus : {false, true}) {
            PromptIndex index(threshold, with_corpus ? corpus : std::vector<std::string_view>{});
            size_t matched = 0;
            for (size_t j = 0; j < prompts.size(); ++j) {
                std::vector<size_t> expected;
                for (size_t i = 0; i < j; ++i) {
                    if (normalize_prompt(prompts[i]) == normalize_prompt(prompts[j]) ||
                        trigram_jaccard(prompts[i], prompts[j]) >= threshold)
                        expected.push_back(i);
                }
                std::vector<size_t> found;
                for (const PromptIndex::Match& m : index.matches(prompts[j])) found.push_back(m.position);
                ASSERT_EQ(found, expected) << "prompt " << j << " at threshold " << threshold;
                matched += found.size();
                index.add(prompts[j]);
            }
            EXPECT_GT(matched, 0u);
        }
    }
}

TEST(PromptIndex, FindsTheOneDuplicateAmongTwentyThousandPrompts) {
    std::vector<FineTuningRow> rows;
    for (int i = 0; i < 20000; ++i)
        rows.push_back(
            row(i + 1, "Question number " + std::to_string(i) + " about topic " + std::to_string(i * 7)));
    rows.push_back(row(20001, "question NUMBER 17 about topic 119"));
    const std::vector<DuplicatePrompts> found = find_duplicate_prompts(rows);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].first_row, 18);
    EXPECT_EQ(found[0].second_row, 20001);
}

TEST(Contamination, NamesTheRowAndTheHeldOutCase) {
    const std::vector<FineTuningRow> rows = {row(1, "Solve 2x + 3 = 11"), row(2, "What is a noun?")};
    const std::vector<HeldOutPrompt> suite = {{"math-01", "solve 2x+3=11!"},
                                              {"writing-01", "What is a verb?"}};
    const std::vector<Contamination> found = find_contamination(rows, suite);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].row_number, 1);
    EXPECT_EQ(found[0].label, "math-01");
    EXPECT_EQ(found[0].match, PromptMatch::exact);
    EXPECT_EQ(to_string(found[0].match), "exact");
}

TEST(Validate, CountsReaderProblemsLongRowsDuplicatesAndContaminationAsErrors) {
    FineTuningData data;
    data.has_category_column = true;
    data.rows = {row(1, "hello", "greeting"), row(2, "Hello!", "greeting"), row(4, "a long one", "")};
    data.problems = {{3, 4, "missing ideal response"}};
    const DatasetValidation found = validate_dataset(data, {{"c1", "a long one"}}, {10, 12, 600}, 512);
    ASSERT_EQ(found.row_problems.size(), 2u);
    EXPECT_EQ(found.row_problems[0].row_number, 3);  // sorted by row
    EXPECT_EQ(found.row_problems[1].row_number, 4);
    EXPECT_NE(found.row_problems[1].reason.find("600 tokens > --ctx 512"), std::string::npos);
    EXPECT_EQ(found.duplicates.size(), 1u);
    EXPECT_EQ(found.contamination.size(), 1u);
    EXPECT_EQ(found.error_count(), 4u);
    ASSERT_EQ(found.warnings.size(), 1u);
    EXPECT_NE(found.warnings[0].find("row 4"), std::string::npos);
}

TEST(Validate, CleanDataHasNoErrorsAndAMissingCategoryColumnIsOnlyAWarning) {
    FineTuningData data;
    data.rows = {row(1, "What is a prime number?"), row(2, "How do I take good notes?")};
    const DatasetValidation found = validate_dataset(data, {}, {}, 512);
    EXPECT_EQ(found.error_count(), 0u);
    ASSERT_EQ(found.warnings.size(), 1u);
    EXPECT_NE(found.warnings[0].find("Category"), std::string::npos);
}

TEST(Stats, CountsCategoriesLabelsAndWords) {
    FineTuningData data;
    data.rows = {row(1, "p1", "math", "Tone: harsh.\nPedagogy: gives it away.\nTone: again."),
                 row(2, "p2", "math", "Accuracy: wrong: very wrong."), row(3, "p3", "", "Just bad.")};
    data.rows[0].model_response = "one two three";
    data.rows[1].model_response = "one";
    data.rows[2].model_response = "one two";
    data.problems = {{4, 5, "missing prompt"}};
    const DatasetStats stats = dataset_stats(data, {});
    EXPECT_EQ(stats.rows, 3u);
    EXPECT_EQ(stats.skipped_rows, 1u);
    using Counts = std::vector<std::pair<std::string, size_t>>;
    EXPECT_EQ(stats.categories, (Counts{{"", 1}, {"math", 2}}));
    EXPECT_EQ(stats.issue_labels, (Counts{{"", 1}, {"Accuracy", 1}, {"Pedagogy", 1}, {"Tone", 1}}));
    ASSERT_TRUE(stats.model_words.has_value());
    EXPECT_EQ(stats.model_words->min, 1);
    EXPECT_EQ(stats.model_words->median, 2);
    EXPECT_EQ(stats.model_words->max, 3);
    EXPECT_EQ(stats.ideal_words->median, 5);
    EXPECT_FALSE(stats.tokens.has_value());
    EXPECT_EQ(dataset_stats(data, {7, 3, 5}).tokens->median, 5);
}

TEST(Stats, WordsAndLabels) {
    EXPECT_EQ(count_words("  two\twords\n"), 2);
    EXPECT_EQ(count_words(""), 0);
    EXPECT_EQ(issue_labels("Writing Quality: filler.\nOther Notes: dashes: -- ---\nno label here"),
              (std::vector<std::string>{"Writing Quality", "Other Notes"}));
    EXPECT_TRUE(issue_labels("see http://example.com").empty());
    EXPECT_EQ(summarize_counts({4, 1, 3, 2})->median, 2);
    EXPECT_FALSE(summarize_counts({}).has_value());
}

std::vector<FineTuningRow> categorized_rows() {
    std::vector<FineTuningRow> rows;
    const char* categories[] = {"math", "math", "writing", "greeting"};
    for (int i = 0; i < 40; ++i) rows.push_back(row(i + 1, "prompt " + std::to_string(i), categories[i % 4]));
    return rows;
}

TEST(Split, StratifiedSplitKeepsEveryCategoryInBothPartsAndIsDeterministic) {
    const std::vector<FineTuningRow> rows = categorized_rows();
    const TrainEvalSplit a = split_stratified(rows, 0.25, 42);
    const TrainEvalSplit b = split_stratified(rows, 0.25, 42);
    EXPECT_EQ(a.train, b.train);
    EXPECT_EQ(a.eval, b.eval);
    EXPECT_TRUE(std::is_sorted(a.eval.begin(), a.eval.end()));
    std::set<size_t> all(a.train.begin(), a.train.end());
    all.insert(a.eval.begin(), a.eval.end());
    EXPECT_EQ(all.size(), rows.size());
    EXPECT_EQ(a.train.size() + a.eval.size(), rows.size());
    std::map<std::string, size_t> eval_per_category;
    for (size_t i : a.eval) ++eval_per_category[rows[i].category];
    EXPECT_EQ(eval_per_category["math"], 5u);     // round(20 * 0.25)
    EXPECT_EQ(eval_per_category["writing"], 3u);  // round(10 * 0.25)
    EXPECT_EQ(eval_per_category["greeting"], 3u);
    EXPECT_NE(split_stratified(rows, 0.25, 43).eval, a.eval);
}

TEST(Split, WithoutCategoriesItIsTheTrainersSplit) {
    std::vector<FineTuningRow> rows = categorized_rows();
    for (FineTuningRow& r : rows) r.category.clear();
    const TrainEvalSplit stratified = split_stratified(rows, 0.25, 7);
    TrainEvalSplit plain = split_train_eval(rows.size(), 0.25, 7);
    std::sort(plain.train.begin(), plain.train.end());
    std::sort(plain.eval.begin(), plain.eval.end());
    EXPECT_EQ(stratified.train, plain.train);
    EXPECT_EQ(stratified.eval, plain.eval);
}

}  // namespace
}  // namespace mimir
