// The statistics an evaluation report needs: an interval for an accuracy, a paired test for two tiers
// answering the same cases, and chrF for closeness to a reference reply.
#pragma once

#include <string_view>

namespace mimir::eval {

struct Interval {
    double low = 0;
    double high = 0;
};

// Wilson score interval for `successes` out of `trials` at 95% (z = 1.959964); {0, 1} for zero trials.
Interval wilson_interval(int successes, int trials);

// Exact McNemar test: two-sided binomial test (p = 1/2) on the discordant pairs, `only_first` cases that
// the first tier passes and the second fails and `only_second` the reverse. 1 when there are none.
double mcnemar_exact_p(int only_first, int only_second);

// chrF (Popovic 2015) with character n-grams of 1..6, beta = 2, whitespace removed: precision and recall
// averaged over the orders both texts have, then the F-score, in [0, 100]. 0 when either text is empty.
double chrf(std::string_view hypothesis, std::string_view reference);

}  // namespace mimir::eval
