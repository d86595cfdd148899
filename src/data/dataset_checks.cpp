#include "data/dataset_checks.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <map>

namespace mimir {

namespace {

bool is_ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

uint64_t fnv1a(std::string_view text, uint64_t hash = 0xcbf29ce484222325ull) {
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
    return hash;
}

// A prompt ready for comparison: its normalised text and its sorted, unique trigram hashes.
struct PromptKey {
    std::string normalized;
    std::vector<uint64_t> trigrams;
};

PromptKey prompt_key(std::string_view text) {
    PromptKey key{normalize_prompt(text), {}};
    std::vector<std::string_view> words;
    std::string_view rest = key.normalized;
    while (!rest.empty()) {
        const size_t space = rest.find(' ');
        words.push_back(rest.substr(0, space));
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
    for (size_t i = 0; i + 2 < words.size(); ++i) {
        uint64_t hash = fnv1a(words[i]);
        hash = fnv1a(" ", hash);
        hash = fnv1a(words[i + 1], hash);
        hash = fnv1a(" ", hash);
        key.trigrams.push_back(fnv1a(words[i + 2], hash));
    }
    std::sort(key.trigrams.begin(), key.trigrams.end());
    key.trigrams.erase(std::unique(key.trigrams.begin(), key.trigrams.end()), key.trigrams.end());
    return key;
}

double jaccard_of(size_t shared, size_t a_count, size_t b_count) {
    if (shared == 0) return 0;
    return static_cast<double>(shared) / static_cast<double>(a_count + b_count - shared);
}

std::vector<std::string_view> row_prompts(const std::vector<FineTuningRow>& rows) {
    std::vector<std::string_view> prompts;
    for (const FineTuningRow& row : rows) prompts.push_back(row.prompt);
    return prompts;
}

std::vector<std::pair<std::string, size_t>> sorted_counts(const std::map<std::string, size_t>& counts) {
    return {counts.begin(), counts.end()};
}

}  // namespace

std::string normalize_prompt(std::string_view text) {
    std::string out;
    bool pending_space = false;
    for (char c : text) {
        if (!is_ascii_alnum(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
}

double trigram_jaccard(std::string_view a, std::string_view b) {
    const PromptKey key_a = prompt_key(a);
    const PromptKey key_b = prompt_key(b);
    std::vector<uint64_t> shared;
    std::set_intersection(key_a.trigrams.begin(), key_a.trigrams.end(), key_b.trigrams.begin(),
                          key_b.trigrams.end(), std::back_inserter(shared));
    return jaccard_of(shared.size(), key_a.trigrams.size(), key_b.trigrams.size());
}

std::string_view to_string(PromptMatch match) {
    switch (match) {
        case PromptMatch::exact:
            return "exact";
        case PromptMatch::near:
            return "near";
        case PromptMatch::none:
            break;
    }
    return "none";
}

PromptIndex::PromptIndex(double threshold, const std::vector<std::string_view>& corpus)
    : threshold_(threshold) {
    for (std::string_view prompt : corpus) {
        for (uint64_t trigram : prompt_key(prompt).trigrams) ++frequency_[trigram];
    }
}

std::vector<uint64_t> PromptIndex::prefix(const std::vector<uint64_t>& trigrams) const {
    auto frequency = [&](uint64_t trigram) {
        const auto found = frequency_.find(trigram);
        return found == frequency_.end() ? 0u : found->second;
    };
    std::vector<std::pair<uint32_t, uint64_t>> ordered;
    for (uint64_t trigram : trigrams) ordered.push_back({frequency(trigram), trigram});
    std::sort(ordered.begin(), ordered.end());
    // A set of n reaching the threshold with another shares at least ceil(threshold * n) trigrams, so one
    // of its first n - ceil(threshold * n) + 1. The tolerance keeps rounding from shortening the prefix.
    const double n = static_cast<double>(trigrams.size());
    const size_t overlap = static_cast<size_t>(std::max(0.0, std::ceil(threshold_ * n - 1e-9)));
    const size_t length = std::min(trigrams.size(), trigrams.size() - std::min(overlap, trigrams.size()) + 1);
    std::vector<uint64_t> out;
    for (size_t i = 0; i < length; ++i) out.push_back(ordered[i].second);
    return out;
}

std::vector<PromptIndex::Match> PromptIndex::matches(std::string_view prompt) const {
    const PromptKey key = prompt_key(prompt);
    std::vector<Match> out;
    if (const auto same = by_text_.find(key.normalized); same != by_text_.end()) {
        for (size_t position : same->second) out.push_back({position, PromptMatch::exact, 1.0});
    }
    std::vector<size_t> candidates;
    for (uint64_t trigram : prefix(key.trigrams)) {
        const auto found = by_trigram_.find(trigram);
        if (found != by_trigram_.end())
            candidates.insert(candidates.end(), found->second.begin(), found->second.end());
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    for (size_t position : candidates) {
        if (normalized_[position] == key.normalized) continue;
        const std::vector<uint64_t>& other = trigrams_[position];
        std::vector<uint64_t> shared;
        std::set_intersection(key.trigrams.begin(), key.trigrams.end(), other.begin(), other.end(),
                              std::back_inserter(shared));
        const double similarity = jaccard_of(shared.size(), key.trigrams.size(), other.size());
        if (similarity >= threshold_ && similarity > 0)
            out.push_back({position, PromptMatch::near, similarity});
    }
    std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.position < b.position; });
    return out;
}

size_t PromptIndex::add(std::string_view prompt) {
    PromptKey key = prompt_key(prompt);
    const size_t position = normalized_.size();
    for (uint64_t trigram : prefix(key.trigrams)) by_trigram_[trigram].push_back(position);
    by_text_[key.normalized].push_back(position);
    normalized_.push_back(std::move(key.normalized));
    trigrams_.push_back(std::move(key.trigrams));
    return position;
}

std::vector<DuplicatePrompts> find_duplicate_prompts(const std::vector<FineTuningRow>& rows,
                                                     double threshold) {
    PromptIndex index(threshold, row_prompts(rows));
    std::vector<std::pair<size_t, DuplicatePrompts>> found;  // first row's position, for row order
    for (const FineTuningRow& row : rows) {
        for (const PromptIndex::Match& m : index.matches(row.prompt))
            found.push_back({m.position, {rows[m.position].row_number, row.row_number, m.match, m.jaccard}});
        index.add(row.prompt);
    }
    std::stable_sort(found.begin(), found.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<DuplicatePrompts> out;
    for (auto& [position, pair] : found) out.push_back(pair);
    return out;
}

std::vector<Contamination> find_contamination(const std::vector<FineTuningRow>& rows,
                                              const std::vector<HeldOutPrompt>& held_out, double threshold) {
    std::vector<std::string_view> corpus = row_prompts(rows);
    for (const HeldOutPrompt& prompt : held_out) corpus.push_back(prompt.prompt);
    PromptIndex index(threshold, corpus);
    for (const HeldOutPrompt& prompt : held_out) index.add(prompt.prompt);
    std::vector<Contamination> found;
    for (const FineTuningRow& row : rows) {
        for (const PromptIndex::Match& m : index.matches(row.prompt))
            found.push_back({row.row_number, held_out[m.position].label, m.match, m.jaccard});
    }
    return found;
}

DatasetValidation validate_dataset(const FineTuningData& data, const std::vector<HeldOutPrompt>& held_out,
                                   const std::vector<int>& token_counts, int n_ctx) {
    DatasetValidation result;
    result.row_problems = data.problems;
    for (size_t i = 0; i < token_counts.size() && i < data.rows.size(); ++i) {
        if (token_counts[i] <= n_ctx) continue;
        const FineTuningRow& row = data.rows[i];
        result.row_problems.push_back({row.row_number, row.line,
                                       "over the context: " + std::to_string(token_counts[i]) +
                                           " tokens > --ctx " + std::to_string(n_ctx)});
    }
    std::stable_sort(result.row_problems.begin(), result.row_problems.end(),
                     [](const RowProblem& a, const RowProblem& b) { return a.row_number < b.row_number; });
    result.duplicates = find_duplicate_prompts(data.rows);
    result.contamination = find_contamination(data.rows, held_out);
    if (!data.has_category_column) {
        result.warnings.push_back("no Category column: stats and split treat all rows as one category");
        return result;
    }
    for (const FineTuningRow& row : data.rows) {
        if (row.category.empty())
            result.warnings.push_back("row " + std::to_string(row.row_number) + " (line " +
                                      std::to_string(row.line) + "): no category");
    }
    return result;
}

std::optional<CountSummary> summarize_counts(std::vector<int> counts) {
    if (counts.empty()) return std::nullopt;
    std::sort(counts.begin(), counts.end());
    return CountSummary{counts.front(), counts[(counts.size() - 1) / 2], counts.back()};
}

int count_words(std::string_view text) {
    int words = 0;
    bool in_word = false;
    for (unsigned char c : text) {
        const bool space = std::isspace(c) != 0;
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return words;
}

std::vector<std::string> issue_labels(std::string_view issues) {
    constexpr size_t kLongestLabel = 40;
    std::vector<std::string> labels;
    while (!issues.empty()) {
        const size_t end = issues.find('\n');
        std::string_view line = issues.substr(0, end);
        issues = end == std::string_view::npos ? std::string_view() : issues.substr(end + 1);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon > kLongestLabel) continue;
        std::string label(line.substr(0, colon));
        label.erase(0, label.find_first_not_of(' '));
        const bool name_like = !label.empty() && std::isupper(static_cast<unsigned char>(label[0])) &&
                               std::all_of(label.begin(), label.end(),
                                           [](unsigned char c) { return std::isalpha(c) || c == ' '; });
        if (name_like && std::find(labels.begin(), labels.end(), label) == labels.end())
            labels.push_back(std::move(label));
    }
    return labels;
}

DatasetStats dataset_stats(const FineTuningData& data, const std::vector<int>& token_counts) {
    DatasetStats stats;
    stats.rows = data.rows.size();
    stats.skipped_rows = data.problems.size();
    std::map<std::string, size_t> categories, labels;
    std::vector<int> ideal_words, model_words;
    for (const FineTuningRow& row : data.rows) {
        ++categories[row.category];
        const std::vector<std::string> row_labels = issue_labels(row.issues);
        if (row_labels.empty()) ++labels[""];
        for (const std::string& label : row_labels) ++labels[label];
        ideal_words.push_back(count_words(row.ideal_response));
        model_words.push_back(count_words(row.model_response));
    }
    stats.categories = sorted_counts(categories);
    stats.issue_labels = sorted_counts(labels);
    stats.ideal_words = summarize_counts(ideal_words);
    stats.model_words = summarize_counts(model_words);
    stats.tokens = summarize_counts(token_counts);
    return stats;
}

TrainEvalSplit split_stratified(const std::vector<FineTuningRow>& rows, double eval_fraction, uint64_t seed) {
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i = 0; i < rows.size(); ++i) groups[rows[i].category].push_back(i);
    TrainEvalSplit split;
    if (groups.size() <= 1) {
        split = split_train_eval(rows.size(), eval_fraction, seed);
    } else {
        for (const auto& [category, members] : groups) {
            // Each category its own order: adding rows to one category leaves the others' splits alone.
            const TrainEvalSplit part =
                split_train_eval(members.size(), eval_fraction, fnv1a(category, seed));
            for (size_t i : part.train) split.train.push_back(members[i]);
            for (size_t i : part.eval) split.eval.push_back(members[i]);
        }
    }
    std::sort(split.train.begin(), split.train.end());
    std::sort(split.eval.begin(), split.eval.end());
    return split;
}

}  // namespace mimir
