#include "eval/runner.h"

#include <algorithm>
#include <numeric>
#include <set>

namespace mimir::eval {

uint32_t sample_seed(uint64_t run_seed, const std::string& case_id, int sample) {
    // FNV-1a of the id, mixed with the seed and the sample number by SplitMix64: portable and stable.
    uint64_t hash = 1469598103934665603ULL;
    for (unsigned char c : case_id) hash = (hash ^ c) * 1099511628211ULL;
    uint64_t z = hash ^ (run_seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(sample + 1));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<uint32_t>(z & 0x7FFFFFFF);
}

double TierResult::mean_similarity() const {
    double sum = 0;
    int count = 0;
    for (const CaseResult& c : cases) {
        if (c.similarity < 0) continue;
        sum += c.similarity;
        ++count;
    }
    return count ? sum / count : -1;
}

namespace {

struct Plan {
    std::vector<std::vector<const CheckInfo*>> checks_per_case;
    std::vector<std::string> check_names;  // union, registry order
};

Result<Plan> plan_checks(const Suite& suite, const RunOptions& options) {
    Plan plan;
    std::set<std::string> used;
    for (const EvalCase& c : suite.cases) {
        auto checks = select_checks(!options.checks.empty() ? options.checks : c.checks);
        if (!checks) return Error{checks.error().code, "case " + c.id + ": " + checks.error().message};
        for (const CheckInfo* check : *checks) used.insert(check->name);
        plan.checks_per_case.push_back(std::move(*checks));
    }
    for (const CheckInfo& check : check_registry()) {
        if (used.contains(check.name)) plan.check_names.push_back(check.name);
    }
    return plan;
}

SamplingParams sampling_for(const RunOptions& options, const EvalCase& c, int sample) {
    SamplingParams sampling = options.sampling;
    sampling.seed = sample_seed(options.seed, c.id, sample);
    if (sample == 0) sampling.temperature = 0;  // greedy
    return sampling;
}

// Runs the case's checks on one reply, in `check_names` order (not-run checks are not_applicable).
void score_sample(SampleResult& sample, const EvalCase& c, const std::vector<const CheckInfo*>& checks,
                  const std::vector<std::string>& check_names, const PhraseLists& phrases) {
    sample.checks.assign(check_names.size(), CheckResult{.outcome = Outcome::not_applicable});
    if (!sample.error.empty()) return;
    for (const CheckInfo* check : checks) {
        const size_t index =
            std::find(check_names.begin(), check_names.end(), check->name) - check_names.begin();
        sample.checks[index] = check->run({c, sample.reply, phrases});
    }
}

void tally_case(TierResult& tier, CaseResult& result, const EvalCase& c,
                const std::vector<std::string>& check_names, const std::vector<bool>& gates) {
    bool any_error = false;
    double similarity_sum = 0;
    int similarity_count = 0;
    for (const SampleResult& sample : result.samples) any_error = any_error || !sample.error.empty();
    for (size_t i = 0; i < check_names.size(); ++i) {
        bool applicable = false, failed = false;
        for (const SampleResult& sample : result.samples) {
            if (sample.checks[i].outcome == Outcome::not_applicable) continue;
            applicable = true;
            failed = failed || sample.checks[i].failed();
            if (!gates[i]) {
                similarity_sum += sample.checks[i].score;
                ++similarity_count;
            }
        }
        if (!applicable) continue;
        CheckTally& tally = tier.by_check[check_names[i]];
        ++tally.applicable;
        tally.passed += failed ? 0 : 1;
        if (failed && gates[i]) result.failing_checks.push_back(check_names[i]);
    }
    if (similarity_count > 0) result.similarity = similarity_sum / similarity_count;
    result.passed = !any_error && result.failing_checks.empty();
    tier.passed += result.passed ? 1 : 0;
    tier.answered += any_error ? 0 : 1;
    CheckTally& category = tier.by_category[c.category];
    ++category.applicable;
    category.passed += result.passed ? 1 : 0;
}

std::vector<Comparison> compare_tiers(const std::vector<TierResult>& tiers, int completed) {
    std::vector<Comparison> comparisons;
    for (size_t a = 0; a < tiers.size(); ++a) {
        for (size_t b = a + 1; b < tiers.size(); ++b) {
            Comparison comparison{.first = tiers[a].name, .second = tiers[b].name};
            // A case a tier never answered (it stopped on an error) counts as failed.
            auto passed = [completed](const TierResult& tier, int i) {
                return i < static_cast<int>(tier.cases.size()) && tier.cases[i].passed;
            };
            for (int i = 0; i < completed; ++i) {
                const bool first = passed(tiers[a], i), second = passed(tiers[b], i);
                comparison.only_first += first && !second ? 1 : 0;
                comparison.only_second += second && !first ? 1 : 0;
            }
            comparison.p_value = mcnemar_exact_p(comparison.only_first, comparison.only_second);
            comparisons.push_back(comparison);
        }
    }
    return comparisons;
}

}  // namespace

Result<EvalReport> run_eval(const Suite& suite, const std::vector<ReplySource*>& tiers,
                            const RunOptions& options) {
    if (options.samples < 1) return Error{"invalid_options", "--samples must be at least 1"};
    if (tiers.empty()) return Error{"invalid_options", "no tier to evaluate (pass --url)"};
    auto plan = plan_checks(suite, options);
    if (!plan) return plan.error();
    EvalReport report{.suite_source = suite.source,
                      .seed = options.seed,
                      .samples = options.samples,
                      .cases = suite.cases,
                      .check_names = plan->check_names};
    for (ReplySource* source : tiers) report.tiers.push_back({.name = source->name()});

    const int total = static_cast<int>(suite.cases.size() * tiers.size()) * options.samples;
    int done = 0;
    auto stopped = [&] { return options.stop && options.stop->load(); };
    for (size_t index = 0; index < suite.cases.size() && !report.partial; ++index) {
        const EvalCase& c = suite.cases[index];
        for (size_t t = 0; t < tiers.size() && !report.partial; ++t) {
            TierResult& tier = report.tiers[t];
            if (!tier.error.empty()) {
                done += options.samples;
                continue;
            }
            CaseResult result;
            for (int s = 0; s < options.samples; ++s) {
                if (stopped()) {
                    report.partial = true;
                    break;
                }
                SampleResult sample;
                auto reply = tiers[t]->reply(c.conversation(), sampling_for(options, c, s));
                if (reply) {
                    sample.reply = std::move(*reply);
                } else {
                    sample.error = reply.error().message;
                    tier.error = reply.error().message;
                }
                score_sample(sample, c, plan->checks_per_case[index], plan->check_names, options.phrases);
                result.samples.push_back(std::move(sample));
                if (options.on_progress) options.on_progress(++done, total);
                if (!tier.error.empty()) break;
            }
            if (report.partial) break;
            tier.cases.push_back(std::move(result));
        }
        if (!report.partial) report.completed = static_cast<int>(index + 1);
    }
    // A case half-answered when the run stopped is dropped from every tier, so all compare the same cases.
    std::vector<bool> gates;
    for (const std::string& name : plan->check_names) gates.push_back((*select_checks({name}))[0]->gates);
    for (TierResult& tier : report.tiers) {
        if (tier.cases.size() > static_cast<size_t>(report.completed)) tier.cases.resize(report.completed);
        for (size_t i = 0; i < tier.cases.size(); ++i)
            tally_case(tier, tier.cases[i], suite.cases[i], plan->check_names, gates);
        tier.interval = wilson_interval(tier.passed, report.completed);
    }
    report.comparisons = compare_tiers(report.tiers, report.completed);
    return report;
}

}  // namespace mimir::eval
