#include "eval/statistics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace mimir::eval {

Interval wilson_interval(int successes, int trials) {
    if (trials <= 0) return {0, 1};
    const double z = 1.959964;
    const double n = trials;
    const double p = static_cast<double>(successes) / n;
    const double denominator = 1 + z * z / n;
    const double center = (p + z * z / (2 * n)) / denominator;
    const double half = z / denominator * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
    return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

double mcnemar_exact_p(int only_first, int only_second) {
    const int n = only_first + only_second;
    if (n == 0) return 1;
    const int k = std::min(only_first, only_second);
    // Sum of C(n, i) / 2^n for i <= k, in logs so large n does not overflow.
    double tail = 0;
    for (int i = 0; i <= k; ++i) {
        const double log_term =
            std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0);
        tail += std::exp(log_term);
    }
    return std::min(1.0, 2 * tail);
}

namespace {

// Characters as UTF-8 sequences (so an n-gram never splits one), whitespace dropped.
std::vector<std::string> characters_without_spaces(std::string_view text) {
    std::vector<std::string> characters;
    for (size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        size_t length = lead < 0x80         ? 1
                        : lead >> 5 == 0x6  ? 2
                        : lead >> 4 == 0xE  ? 3
                        : lead >> 3 == 0x1E ? 4
                                            : 1;
        length = std::min(length, text.size() - i);
        if (!std::isspace(lead)) characters.emplace_back(text.substr(i, length));
        i += length;
    }
    return characters;
}

std::map<std::string, int> ngram_counts(const std::vector<std::string>& characters, size_t n) {
    std::map<std::string, int> counts;
    for (size_t i = 0; i + n <= characters.size(); ++i) {
        std::string gram;
        for (size_t j = i; j < i + n; ++j) gram += characters[j];
        ++counts[gram];
    }
    return counts;
}

}  // namespace

double chrf(std::string_view hypothesis, std::string_view reference) {
    const int max_order = 6;
    const double beta = 2;
    const auto hyp = characters_without_spaces(hypothesis);
    const auto ref = characters_without_spaces(reference);
    double precision_sum = 0, recall_sum = 0;
    int orders = 0;
    for (int n = 1; n <= max_order; ++n) {
        const auto hyp_counts = ngram_counts(hyp, n);
        const auto ref_counts = ngram_counts(ref, n);
        if (hyp_counts.empty() || ref_counts.empty()) break;
        int hyp_total = 0, ref_total = 0, matches = 0;
        for (const auto& [gram, count] : hyp_counts) {
            hyp_total += count;
            if (auto found = ref_counts.find(gram); found != ref_counts.end())
                matches += std::min(count, found->second);
        }
        for (const auto& [gram, count] : ref_counts) ref_total += count;
        precision_sum += static_cast<double>(matches) / hyp_total;
        recall_sum += static_cast<double>(matches) / ref_total;
        ++orders;
    }
    if (orders == 0) return 0;
    const double precision = precision_sum / orders;
    const double recall = recall_sum / orders;
    if (precision + recall == 0) return 0;
    return 100 * (1 + beta * beta) * precision * recall / (beta * beta * precision + recall);
}

}  // namespace mimir::eval
