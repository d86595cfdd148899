// Runs a suite against one or more tiers (reply sources) and scores every reply with the checks.
// "Consistently": each case is answered `samples` times (greedy, then sampled with seeds derived from the
// run's seed and the case id) and passes only when every gating check passes in every sample.
// Tiers answer the same cases in the same order, case by case, so a stopped run still compares them fairly.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/checks.h"
#include "eval/reply_source.h"
#include "eval/statistics.h"
#include "eval/suite.h"

namespace mimir::eval {

struct RunOptions {
    int samples = 3;    // 1 = greedy only
    uint64_t seed = 0;  // same seed, same sampling seeds, same report
    // Sampling of the non-greedy samples (temperature, top_p, max_tokens); seeds are set by the runner.
    SamplingParams sampling{.temperature = 0.7f, .max_tokens = 512};
    std::vector<std::string> checks;  // names to run on every case; empty = each case's own list, else all
    PhraseLists phrases;
    const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT): finish the current reply, then stop
    // Called after every reply with the replies done and the replies planned (for a progress bar).
    std::function<void(int done, int total)> on_progress;
};

// One reply and what each check (in EvalReport::check_names order) said about it.
struct SampleResult {
    std::string reply;
    std::string error;  // the reply source's error; the case fails
    std::vector<CheckResult> checks;
};

struct CaseResult {
    std::vector<SampleResult> samples;
    bool passed = false;
    std::vector<std::string> failing_checks;  // gating checks that failed in at least one sample
    double similarity = -1;                   // mean chrF over samples; -1 when not run
};

struct CheckTally {
    int applicable = 0;  // cases where the check applied
    int passed = 0;      // of those, passing in every sample
};

struct TierResult {
    std::string name;
    std::string
        error;  // set when the tier stopped answering (unreachable, garbage): its later cases are not run
    std::vector<CaseResult> cases;  // one per completed case, in suite order (may be fewer after an error)
    int passed = 0;
    int answered = 0;   // cases answered without a reply error
    Interval interval;  // Wilson 95% of passed / completed cases
    std::map<std::string, CheckTally> by_check;
    std::map<std::string, CheckTally> by_category;  // `applicable` = cases in the category
    double accuracy(int completed) const { return completed ? static_cast<double>(passed) / completed : 0; }
    double mean_similarity() const;  // mean chrF over cases with a reference; -1 when none
};

struct Comparison {
    std::string first, second;
    int only_first = 0, only_second = 0;  // discordant cases
    double p_value = 1;                   // exact McNemar
};

struct EvalReport {
    std::string suite_source;
    uint64_t seed = 0;
    int samples = 0;
    bool partial = false;  // stopped before every case was answered
    int completed = 0;     // cases every tier was asked (the first `completed` of `cases`)
    std::vector<EvalCase> cases;
    std::vector<std::string> check_names;  // every check run on some case, registry order
    std::vector<TierResult> tiers;
    std::vector<Comparison> comparisons;  // every pair of tiers
};

// Errors: "unknown_check" from RunOptions::checks or a case's list, "invalid_options" (samples < 1, no
// tiers).
Result<EvalReport> run_eval(const Suite& suite, const std::vector<ReplySource*>& tiers,
                            const RunOptions& options);

// The seed of sample `sample` (>= 1) of case `case_id`: a hash of both with the run's seed.
uint32_t sample_seed(uint64_t run_seed, const std::string& case_id, int sample);

}  // namespace mimir::eval
