#include "agent/snippet_classifier.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "data/csv.h"
#include "support/files.h"
#include "support/system.h"

namespace mimir {
namespace {

using nlohmann::json;

bool is_word_byte(unsigned char c) {
    return std::isalnum(c) || c >= 0x80;  // bytes of UTF-8 sequences stay inside their word
}

bool is_operator(char c) {
    return std::string_view("+-*/=^%<>").find(c) != std::string_view::npos;
}

std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    auto flush = [&] {
        if (word.empty()) return;
        const bool number =
            std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isdigit(c); });
        words.push_back(number ? "<num>" : word);
        word.clear();
    };
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (is_word_byte(byte)) {
            // "2x" is a number and a variable, as "2 x" is.
            if (!word.empty() &&
                std::isdigit(static_cast<unsigned char>(word.back())) != std::isdigit(byte) && byte < 0x80)
                flush();
            word.push_back(static_cast<char>(std::tolower(byte)));
        } else if (c == '\'') {
            continue;  // "don't" and "dont" are one word
        } else {
            flush();
            if (is_operator(c)) words.emplace_back(1, c);
        }
    }
    flush();
    return words;
}

std::vector<double> softmax(std::vector<double> logits) {
    const double top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double& value : logits) sum += value = std::exp(value - top);
    for (double& value : logits) value /= sum;
    return logits;
}

// A text as the training loop sees it: the indices of its distinct features, each weighing 1/sqrt(n), so a
// long turn does not outvote a short one.
struct SparseText {
    std::vector<int> features;
    double weight = 0;
    int label = 0;
};

Error invalid(const std::string& source, const std::string& what) {
    return Error{"classifier_invalid", source + ": " + what};
}

bool numbers_of_size(const json& value, size_t size) {
    return value.is_array() && value.size() == size &&
           std::all_of(value.begin(), value.end(),
                       [](const json& x) { return x.is_number() && std::isfinite(x.get<double>()); });
}

double rounded(double value) {
    return std::round(value * 1e4) / 1e4;  // the file stays small; predictions do not change
}

}  // namespace

std::vector<std::string> text_features(std::string_view text) {
    const std::vector<std::string> words = words_of(text);
    std::vector<std::string> features;
    for (size_t i = 0; i < words.size(); ++i) {
        features.push_back("w:" + words[i]);
        if (i + 1 < words.size()) features.push_back("b:" + words[i] + "_" + words[i + 1]);
    }
    return features;
}

Result<std::vector<LabelledPrompt>> read_labelled_prompts(const std::string& path) {
    Result<CsvTable> table = read_csv_file(path);
    if (!table) return table.error();
    const auto column = [&](const char* name) {
        return std::find(table->header.begin(), table->header.end(), name) - table->header.begin();
    };
    const size_t prompt = column("prompt");
    const size_t label = column("label");
    if (prompt >= table->header.size() || label >= table->header.size())
        return Error{"labels_invalid", path + ": the header must have the columns prompt and label"};
    std::vector<LabelledPrompt> rows;
    for (const CsvRecord& record : table->records) {
        const std::string where = path + ":" + std::to_string(record.line);
        if (!record.error.empty()) return Error{"labels_invalid", where + ": " + record.error};
        if (record.fields.size() <= std::max(prompt, label) || record.fields[prompt].empty() ||
            record.fields[label].empty())
            return Error{"labels_invalid", where + ": the prompt and the label must not be empty"};
        rows.push_back({record.fields[prompt], record.fields[label], record.line});
    }
    if (rows.empty()) return Error{"labels_invalid", path + ": no labelled prompts"};
    return rows;
}

SnippetClassifier SnippetClassifier::train(const std::vector<LabelledPrompt>& rows,
                                           const ClassifierSettings& settings) {
    SnippetClassifier model;
    std::set<std::string> label_set;
    for (const LabelledPrompt& row : rows) label_set.insert(row.label);
    model.labels_.assign(label_set.begin(), label_set.end());
    const size_t n_labels = model.labels_.size();

    std::map<std::string, int> feature_index;  // ordered, so indices do not depend on hashing
    for (const LabelledPrompt& row : rows)
        for (const std::string& feature : text_features(row.prompt)) feature_index.emplace(feature, 0);
    int next = 0;
    for (auto& [feature, index] : feature_index) index = next++;

    std::vector<SparseText> texts;
    for (const LabelledPrompt& row : rows) {
        SparseText text;
        for (const std::string& feature : text_features(row.prompt))
            text.features.push_back(feature_index[feature]);
        std::sort(text.features.begin(), text.features.end());
        text.features.erase(std::unique(text.features.begin(), text.features.end()), text.features.end());
        text.weight = text.features.empty() ? 0 : 1.0 / std::sqrt(static_cast<double>(text.features.size()));
        text.label = static_cast<int>(
            std::lower_bound(model.labels_.begin(), model.labels_.end(), row.label) - model.labels_.begin());
        texts.push_back(std::move(text));
    }

    std::vector<double> weights(feature_index.size() * n_labels, 0.0);
    std::vector<double> bias(n_labels, 0.0);
    std::vector<double> weight_gradient(weights.size());
    std::vector<double> bias_gradient(n_labels);
    const double scale = settings.learning_rate / static_cast<double>(texts.size());
    for (int iteration = 0; iteration < settings.iterations; ++iteration) {
        std::fill(weight_gradient.begin(), weight_gradient.end(), 0.0);
        std::fill(bias_gradient.begin(), bias_gradient.end(), 0.0);
        for (const SparseText& text : texts) {
            std::vector<double> logits = bias;
            for (int feature : text.features)
                for (size_t l = 0; l < n_labels; ++l)
                    logits[l] += weights[feature * n_labels + l] * text.weight;
            std::vector<double> error = softmax(std::move(logits));
            error[text.label] -= 1.0;
            for (size_t l = 0; l < n_labels; ++l) bias_gradient[l] += error[l];
            for (int feature : text.features)
                for (size_t l = 0; l < n_labels; ++l)
                    weight_gradient[feature * n_labels + l] += error[l] * text.weight;
        }
        for (size_t i = 0; i < weights.size(); ++i)
            weights[i] -= scale * weight_gradient[i] + settings.learning_rate * settings.l2 * weights[i];
        for (size_t l = 0; l < n_labels; ++l) bias[l] -= scale * bias_gradient[l];
    }
    model.bias_ = std::move(bias);
    for (const auto& [feature, index] : feature_index)
        model.weights_[feature].assign(weights.begin() + index * n_labels,
                                       weights.begin() + (index + 1) * n_labels);
    return model;
}

std::vector<double> SnippetClassifier::probabilities(std::string_view text) const {
    std::vector<std::string> features = text_features(text);
    std::sort(features.begin(), features.end());
    features.erase(std::unique(features.begin(), features.end()), features.end());
    // Unknown features count towards the 1/sqrt(n) weight, as they did for the training texts' own words.
    const double weight = features.empty() ? 0 : 1.0 / std::sqrt(static_cast<double>(features.size()));
    std::vector<double> logits = bias_;
    for (const std::string& feature : features) {
        const auto found = weights_.find(feature);
        if (found == weights_.end()) continue;
        for (size_t l = 0; l < logits.size(); ++l) logits[l] += found->second[l] * weight;
    }
    return softmax(std::move(logits));
}

std::string SnippetClassifier::predict(std::string_view text) const {
    const std::vector<double> probabilities = this->probabilities(text);
    return labels_[std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin()];
}

json SnippetClassifier::to_json() const {
    json weights = json::object();
    for (const auto& [feature, values] : weights_) {
        std::vector<double> kept;
        for (double value : values) kept.push_back(rounded(value));
        if (std::any_of(kept.begin(), kept.end(), [](double value) { return value != 0; }))
            weights[feature] = kept;
    }
    std::vector<double> bias;
    for (double value : bias_) bias.push_back(rounded(value));
    return json{{"format", kSnippetClassifierFormat},
                {"version", kSnippetClassifierVersion},
                {"model", "logistic_regression"},
                {"labels", labels_},
                {"bias", bias},
                {"weights", weights}};
}

Result<SnippetClassifier> SnippetClassifier::from_json(const json& model, const std::string& source,
                                                       const std::vector<std::string>& known_labels) {
    if (!model.is_object()) return invalid(source, "not a JSON object");
    if (model.value("format", std::string()) != kSnippetClassifierFormat || !model.contains("version") ||
        model["version"] != kSnippetClassifierVersion)
        return Error{"classifier_version", source + ": not a " + std::string(kSnippetClassifierFormat) +
                                               " version " + std::to_string(kSnippetClassifierVersion) +
                                               " file; train it again with mimir prompts train"};
    SnippetClassifier classifier;
    if (!model.contains("labels") || !model["labels"].is_array() || model["labels"].empty())
        return invalid(source, "labels must be a non-empty list");
    for (const json& label : model["labels"]) {
        if (!label.is_string()) return invalid(source, "labels must be strings");
        classifier.labels_.push_back(label.get<std::string>());
    }
    const size_t n_labels = classifier.labels_.size();
    if (!model.contains("bias") || !numbers_of_size(model["bias"], n_labels))
        return invalid(source, "bias must hold one number per label");
    classifier.bias_ = model["bias"].get<std::vector<double>>();
    if (!model.contains("weights") || !model["weights"].is_object())
        return invalid(source, "weights must be an object");
    for (const auto& [feature, values] : model["weights"].items()) {
        if (!numbers_of_size(values, n_labels))
            return invalid(source, "weights[\"" + feature + "\"] must hold one number per label");
        classifier.weights_[feature] = values.get<std::vector<double>>();
    }
    if (!known_labels.empty())
        for (const std::string& label : classifier.labels_)
            if (std::find(known_labels.begin(), known_labels.end(), label) == known_labels.end())
                return Error{"classifier_labels",
                             source + ": label \"" + label + "\" is not among the snippet manifest's labels"};
    return classifier;
}

Result<SnippetClassifier> SnippetClassifier::load(const std::string& path,
                                                  const std::vector<std::string>& known_labels) {
    Result<std::string> text = read_text_file(path);
    if (!text) return text.error();
    const json model = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (model.is_discarded()) return invalid(path, "not valid JSON");
    return from_json(model, path, known_labels);
}

Status SnippetClassifier::save(const std::string& path) const {
    return write_text_atomically(path, to_json().dump() + "\n");
}

HeldOutAccuracy measure_accuracy(const SnippetClassifier& classifier, const std::vector<LabelledPrompt>& rows,
                                 const std::string& majority_label) {
    HeldOutAccuracy accuracy;
    int majority = 0;
    for (const LabelledPrompt& row : rows) {
        const bool right = classifier.predict(row.prompt) == row.label;
        LabelAccuracy& label = accuracy.per_label[row.label];
        ++label.total;
        ++accuracy.total;
        label.correct += right;
        accuracy.correct += right;
        majority += row.label == majority_label;
    }
    accuracy.majority_baseline = rows.empty() ? 0 : static_cast<double>(majority) / rows.size();
    return accuracy;
}

LabelSplit split_labelled_prompts(const std::vector<LabelledPrompt>& rows, double test_share, uint64_t seed) {
    std::map<std::string, std::vector<size_t>> by_label;
    for (size_t i = 0; i < rows.size(); ++i) by_label[rows[i].label].push_back(i);
    std::vector<bool> held_out(rows.size(), false);
    SplitMix64 random(seed);
    for (auto& [label, indices] : by_label) {
        for (size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[random.next() % i]);
        size_t n_test = static_cast<size_t>(std::lround(test_share * static_cast<double>(indices.size())));
        if (test_share > 0 && indices.size() >= 2) n_test = std::clamp<size_t>(n_test, 1, indices.size() - 1);
        for (size_t i = 0; i < n_test; ++i) held_out[indices[i]] = true;
    }
    LabelSplit split;
    for (size_t i = 0; i < rows.size(); ++i) (held_out[i] ? split.test : split.train).push_back(rows[i]);
    return split;
}

TrainedClassifier train_with_held_out(const std::vector<LabelledPrompt>& rows, double test_share,
                                      uint64_t seed, const ClassifierSettings& settings) {
    LabelSplit split = split_labelled_prompts(rows, test_share, seed);
    std::map<std::string, int> counts;
    for (const LabelledPrompt& row : split.train) ++counts[row.label];
    const auto majority = std::max_element(counts.begin(), counts.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; });
    SnippetClassifier classifier = SnippetClassifier::train(split.train, settings);
    HeldOutAccuracy held_out = measure_accuracy(classifier, split.test, majority->first);
    return TrainedClassifier{std::move(classifier), std::move(held_out), static_cast<int>(split.train.size()),
                             majority->first};
}

std::string describe_accuracy(const HeldOutAccuracy& accuracy) {
    char head[160];
    std::snprintf(head, sizeof head, "held-out accuracy %.3f (%d/%d), majority baseline %.3f",
                  accuracy.accuracy(), accuracy.correct, accuracy.total, accuracy.majority_baseline);
    std::string text = head;
    const char* separator = "; ";
    for (const auto& [label, counts] : accuracy.per_label) {
        char part[160];
        std::snprintf(part, sizeof part, "%s%s %.2f (%d/%d)", separator, label.c_str(),
                      counts.total ? static_cast<double>(counts.correct) / counts.total : 0.0, counts.correct,
                      counts.total);
        text += part;
        separator = ", ";
    }
    return text;
}

}  // namespace mimir
