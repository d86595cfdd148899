// The classifier that picks a conversation's tutor-prompt snippets: it labels a student's turn with a task
// or subject ("math", "do_my_work", "motivation", ...), and the snippet manifest maps labels to snippets.
//
// Model: multinomial logistic regression on word and word-pair features. The original project used a
// decision tree; on turns of a few words a tree splits on one word at a time and must grow deep to cover
// vocabulary it has seen once, while a linear model adds the small evidence of every word ("essay",
// "write", "for me") and gives probabilities that are not all 0 or 1 (unlike naive Bayes on short texts),
// so a turn that mixes tasks can select a second snippet. Trained by full-batch gradient descent: no
// randomness, so a seed only decides the held-out split and training is deterministic.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "support/result.h"

namespace mimir {

inline constexpr std::string_view kSnippetClassifierFormat = "mimir-snippet-classifier";
inline constexpr int kSnippetClassifierVersion = 1;

struct LabelledPrompt {
    std::string prompt;
    std::string label;
    int line = 0;  // in the file it was read from, for messages
};

// A CSV with the columns prompt,label (data/prompt_labels.csv). Errors name the file and line:
// "not_found", "labels_invalid" (missing column, empty prompt or label, broken quoting, no rows).
Result<std::vector<LabelledPrompt>> read_labelled_prompts(const std::string& path);

// The features of a text: lower-cased words (letters and digits; a number becomes "<num>", an operator
// such as "=" or "+" a word of its own), each as "w:word", and each pair of neighbours as "b:one_two".
std::vector<std::string> text_features(std::string_view text);

struct ClassifierSettings {
    int iterations = 500;
    double learning_rate = 20.0;  // per text's mean gradient; features weigh 1/sqrt(n), so steps are small
    double l2 = 1e-4;             // weight decay per iteration, keeps rarely seen words from dominating
};

class SnippetClassifier {
  public:
    // Learns from `rows` (their labels become labels(), sorted). Rows must not be empty.
    static SnippetClassifier train(const std::vector<LabelledPrompt>& rows,
                                   const ClassifierSettings& settings = {});
    // Reads a file written by save(). Errors, naming the file: "classifier_invalid" (not JSON, a missing or
    // mistyped field, weights of the wrong size), "classifier_version" (another format or version),
    // "classifier_labels" (a label not in `known_labels`; an empty list accepts every label).
    static Result<SnippetClassifier> load(const std::string& path,
                                          const std::vector<std::string>& known_labels = {});
    Status save(const std::string& path) const;  // atomically; "write_failed"

    const std::vector<std::string>& labels() const { return labels_; }
    // Probability of each label (same order as labels()), summing to 1.
    std::vector<double> probabilities(std::string_view text) const;
    std::string predict(std::string_view text) const;

    nlohmann::json to_json() const;
    static Result<SnippetClassifier> from_json(const nlohmann::json& model, const std::string& source,
                                               const std::vector<std::string>& known_labels = {});

  private:
    std::vector<std::string> labels_;
    std::vector<double> bias_;                            // per label
    std::map<std::string, std::vector<double>> weights_;  // feature -> weight per label
};

// Correct and total predictions for one label (by the true label).
struct LabelAccuracy {
    int correct = 0;
    int total = 0;
};

struct HeldOutAccuracy {
    int correct = 0;
    int total = 0;
    std::map<std::string, LabelAccuracy> per_label;
    double majority_baseline = 0;  // share of the held-out rows that carry the training set's commonest label
    double accuracy() const { return total ? static_cast<double>(correct) / total : 0; }
};

HeldOutAccuracy measure_accuracy(const SnippetClassifier& classifier, const std::vector<LabelledPrompt>& rows,
                                 const std::string& majority_label = "");

// A seeded split that keeps `test_share` of each label's rows for measuring (at least one when the label
// has two or more rows); the same seed and rows give the same split.
struct LabelSplit {
    std::vector<LabelledPrompt> train;
    std::vector<LabelledPrompt> test;
};
LabelSplit split_labelled_prompts(const std::vector<LabelledPrompt>& rows, double test_share, uint64_t seed);

// Trains on the split's training rows and measures on its held-out rows (none when test_share is 0).
struct TrainedClassifier {
    SnippetClassifier classifier;
    HeldOutAccuracy held_out;
    int train_rows = 0;
    std::string majority_label;  // the training rows' commonest label, the baseline's answer
};
TrainedClassifier train_with_held_out(const std::vector<LabelledPrompt>& rows, double test_share,
                                      uint64_t seed, const ClassifierSettings& settings = {});

// "held-out accuracy 0.85 (51/60), majority baseline 0.13; math 1.00 (8/8), ..."
std::string describe_accuracy(const HeldOutAccuracy& accuracy);

}  // namespace mimir
