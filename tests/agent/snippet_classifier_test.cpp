#include "agent/snippet_classifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "data/dataset_checks.h"
#include "support/test_models.h"

namespace mimir {
namespace {

const std::string kSource = MIMIR_TEST_SOURCE_DIR;

// Two topics with no word in common: anything that learns must separate them.
std::vector<LabelledPrompt> toy_rows() {
    return {{"apples and bananas", "fruit"},    {"I like ripe bananas", "fruit"},
            {"pears apples plums", "fruit"},    {"plums are sweet", "fruit"},
            {"fast cars on roads", "vehicles"}, {"trucks and cars", "vehicles"},
            {"a bus and a truck", "vehicles"},  {"roads full of trucks", "vehicles"}};
}

std::string write(const std::string& name, const std::string& text) {
    const std::string path = test::scratch_dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
}

TEST(TextFeatures, WordsNumbersOperatorsAndPairs) {
    const std::vector<std::string> features = text_features("Solve 2x + 3 = 11, don't guess");
    const std::set<std::string> set(features.begin(), features.end());
    for (const char* expected :
         {"w:solve", "w:<num>", "w:x", "w:+", "w:=", "w:dont", "b:solve_<num>", "b:<num>_x"})
        EXPECT_TRUE(set.count(expected)) << expected;
    EXPECT_FALSE(set.count("w:11"));
    EXPECT_TRUE(text_features("  ...  ").empty());
}

TEST(SnippetClassifier, LearnsSeparableTopics) {
    const SnippetClassifier classifier = SnippetClassifier::train(toy_rows());
    EXPECT_EQ(classifier.labels(), (std::vector<std::string>{"fruit", "vehicles"}));
    EXPECT_EQ(classifier.predict("bananas please"), "fruit");
    EXPECT_EQ(classifier.predict("my truck"), "vehicles");
    const std::vector<double> p = classifier.probabilities("apples");
    EXPECT_NEAR(p[0] + p[1], 1.0, 1e-9);
    EXPECT_GT(p[0], 0.6);
}

TEST(SnippetClassifier, TrainingIsDeterministic) {
    EXPECT_EQ(SnippetClassifier::train(toy_rows()).to_json(), SnippetClassifier::train(toy_rows()).to_json());
}

TEST(SnippetClassifier, SavedFileLoadsWithTheSamePredictions) {
    const SnippetClassifier classifier = SnippetClassifier::train(toy_rows());
    const std::string path = test::scratch_dir() + "/classifier.json";
    ASSERT_TRUE(classifier.save(path));
    Result<SnippetClassifier> loaded = SnippetClassifier::load(path, {"fruit", "vehicles", "other"});
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->labels(), classifier.labels());
    for (const char* text : {"apples", "cars and trucks", "plums on the road", ""}) {
        const std::vector<double> a = classifier.probabilities(text);
        const std::vector<double> b = loaded->probabilities(text);
        for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-3) << text;
    }
}

TEST(SnippetClassifier, BadFilesGiveClearErrors) {
    const SnippetClassifier classifier = SnippetClassifier::train(toy_rows());
    nlohmann::json other_version = classifier.to_json();
    other_version["version"] = 99;
    nlohmann::json other_format = classifier.to_json();
    other_format["format"] = "something-else";
    nlohmann::json short_weights = classifier.to_json();
    short_weights["weights"]["w:apples"] = {0.5};
    nlohmann::json no_bias = classifier.to_json();
    no_bias.erase("bias");
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"corrupt.json", "{\"format\": \"mimir-snippet-cl", "classifier_invalid"},
        {"version.json", other_version.dump(), "classifier_version"},
        {"format.json", other_format.dump(), "classifier_version"},
        {"weights.json", short_weights.dump(), "classifier_invalid"},
        {"bias.json", no_bias.dump(), "classifier_invalid"},
    };
    for (const auto& [name, text, code] : cases) {
        const std::string path = write(name, text);
        Result<SnippetClassifier> loaded = SnippetClassifier::load(path);
        ASSERT_FALSE(loaded) << name;
        EXPECT_EQ(loaded.error().code, code) << name << ": " << loaded.error().message;
        EXPECT_NE(loaded.error().message.find(path), std::string::npos) << loaded.error().message;
    }
    Result<SnippetClassifier> missing = SnippetClassifier::load(test::scratch_dir() + "/none.json");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, "not_found");
}

TEST(SnippetClassifier, LabelsTheManifestDoesNotKnowAreRefused) {
    const std::string path = test::scratch_dir() + "/classifier.json";
    ASSERT_TRUE(SnippetClassifier::train(toy_rows()).save(path));
    Result<SnippetClassifier> loaded = SnippetClassifier::load(path, {"fruit", "math"});
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code, "classifier_labels");
    EXPECT_NE(loaded.error().message.find("vehicles"), std::string::npos) << loaded.error().message;
}

TEST(LabelledPrompts, BadFilesNameTheLine) {
    Result<std::vector<LabelledPrompt>> no_column =
        read_labelled_prompts(write("a.csv", "prompt,kind\nhi,greeting\n"));
    ASSERT_FALSE(no_column);
    EXPECT_EQ(no_column.error().code, "labels_invalid");
    Result<std::vector<LabelledPrompt>> empty_label =
        read_labelled_prompts(write("b.csv", "prompt,label\nhi,\n"));
    ASSERT_FALSE(empty_label);
    EXPECT_NE(empty_label.error().message.find(":2"), std::string::npos) << empty_label.error().message;
    Result<std::vector<LabelledPrompt>> no_rows = read_labelled_prompts(write("c.csv", "prompt,label\n"));
    ASSERT_FALSE(no_rows);
    EXPECT_EQ(no_rows.error().code, "labels_invalid");
}

TEST(LabelSplit, SeededStratifiedAndDisjoint) {
    Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(kSource + "/data/prompt_labels.csv");
    ASSERT_TRUE(rows) << rows.error().message;
    const LabelSplit a = split_labelled_prompts(*rows, 0.2, 7);
    const LabelSplit b = split_labelled_prompts(*rows, 0.2, 7);
    const LabelSplit c = split_labelled_prompts(*rows, 0.2, 8);
    EXPECT_EQ(a.train.size() + a.test.size(), rows->size());
    std::set<std::string> test_prompts, train_labels, test_labels;
    for (const LabelledPrompt& row : a.test) test_prompts.insert(row.prompt), test_labels.insert(row.label);
    for (const LabelledPrompt& row : a.train) {
        EXPECT_FALSE(test_prompts.count(row.prompt)) << row.prompt;
        train_labels.insert(row.label);
    }
    EXPECT_EQ(train_labels, test_labels);  // every label on both sides
    ASSERT_EQ(a.test.size(), b.test.size());
    for (size_t i = 0; i < a.test.size(); ++i) EXPECT_EQ(a.test[i].prompt, b.test[i].prompt);
    bool differs = a.test.size() != c.test.size();
    for (size_t i = 0; !differs && i < a.test.size(); ++i) differs = a.test[i].prompt != c.test[i].prompt;
    EXPECT_TRUE(differs);
}

// The shipped labels: the classifier must do much better than always answering the commonest label, on
// prompts it never saw (a held-out share, and the eval suite's prompts, which the labels file never holds).
TEST(SnippetClassifier, BeatsTheMajorityBaselineOnHeldOutPrompts) {
    Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(kSource + "/data/prompt_labels.csv");
    ASSERT_TRUE(rows) << rows.error().message;
    const TrainedClassifier trained = train_with_held_out(*rows, 0.2, 42);
    ASSERT_GT(trained.held_out.total, 0);
    EXPECT_GT(trained.held_out.accuracy(), 2 * trained.held_out.majority_baseline)
        << describe_accuracy(trained.held_out);
}

TEST(PromptLabels, NoEvalSuitePromptIsLabelled) {
    Result<std::vector<LabelledPrompt>> rows = read_labelled_prompts(kSource + "/data/prompt_labels.csv");
    ASSERT_TRUE(rows) << rows.error().message;
    std::set<std::string> labelled;
    for (const LabelledPrompt& row : *rows) labelled.insert(normalize_prompt(row.prompt));
    std::ifstream suite(kSource + "/data/eval_suite.jsonl");
    std::string line;
    int cases = 0;
    while (std::getline(suite, line)) {
        if (line.empty() || line[0] == '#') continue;
        const std::string prompt = nlohmann::json::parse(line).at("prompt");
        ++cases;
        EXPECT_FALSE(labelled.count(normalize_prompt(prompt))) << "held-out prompt is labelled: " << prompt;
        for (const LabelledPrompt& row : *rows)
            EXPECT_LT(trigram_jaccard(row.prompt, prompt), 0.8) << row.prompt << " | " << prompt;
    }
    EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace mimir
