// Internal to the serve module: what the feedback endpoints share: the store, the evaluation's phrase lists
// (read once at start, from the folder `mimir eval` reads by default) and a rate limit of their own, so a
// flood of feedback cannot use up a client's chat budget or the other way round.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/feedback_store.h"
#include "eval/checks.h"
#include "serve/access_control.h"
#include "serve/server.h"

namespace mimir::serve {

class FeedbackService {
  public:
    explicit FeedbackService(const ServeOptions& options);

    // Opens options.feedback_store or options.data_location and reads the phrase lists. Errors: the
    // store's ("store_unavailable", "schema_too_new", ...), or the phrase lists' naming the file.
    Status open(const ServeOptions& options);

    // Null when the server runs without a store (the endpoints then answer 503 store_unavailable).
    data::FeedbackStore* store() const { return store_.get(); }
    RateLimiter& rate_limiter() { return rate_limiter_; }

    // The evaluation's standalone checks on `reply` (an ideal response) to `prompt`; checks that do not
    // apply to it are left out.
    std::vector<data::StoredCheck> check(const std::string& prompt, const std::string& reply) const;

  private:
    std::shared_ptr<data::FeedbackStore> store_;
    eval::PhraseLists phrases_;
    std::vector<const eval::CheckInfo*> checks_;
    RateLimiter rate_limiter_;
};

}  // namespace mimir::serve
