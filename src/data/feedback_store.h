// The learning loop's store: replies people flagged in the page, each with the rewrite training needs, and
// the review decision on it. One interface, two back ends: SQLite (the default, one file, WAL with
// synchronous commits) and PostgreSQL (a `postgresql://` URL, so several `mimir serve` replicas share one
// store). The schema is versioned and migrated when a store opens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir::data {

// Thumbs up / down on a reply; none when the person only wrote a rewrite.
enum class Rating { none, up, down };
// A submission waits for review; approved rows are what `mimir dataset export` writes by default.
enum class ReviewState { pending, approved, rejected };

const char* to_string(Rating rating);
const char* to_string(ReviewState state);
std::optional<Rating> rating_from_string(const std::string& text);
std::optional<ReviewState> review_state_from_string(const std::string& text);

// The issue categories a person can tick in the page, in the data set's wording ("Tone", "Writing Quality",
// ...) so an exported row's issues column reads like the original spreadsheet's.
const std::vector<std::string>& issue_categories();

// One evaluation check's verdict on the ideal response, kept with the row (the person may submit anyway).
struct StoredCheck {
    std::string name;  // "tone.no_emoticons"
    bool passed = true;
    std::string reason;  // the offending span or what is missing; empty when passed
};

// What a person submitted about one reply, plus what the server knew when it answered.
struct FeedbackSubmission {
    std::string prompt;               // the student's message the reply answered (required)
    std::string model_response;       // the reply as shown (required)
    std::vector<std::string> issues;  // a subset of issue_categories()
    std::string notes;
    std::string ideal_response;  // the rewrite; may be empty for a plain thumbs up / down
    Rating rating = Rating::none;
    std::string conversation_json;    // the turns before the prompt, a JSON array of {role, content}
    std::string tier;                 // the tier that answered: "fine-tuned", "adapter", "base" (tier_name)
    std::string model_hash;           // hash of the model file that answered
    std::vector<StoredCheck> checks;  // the checks run on ideal_response at submission
};

// A stored submission and its review.
struct FeedbackRecord {
    int64_t id = 0;
    FeedbackSubmission submission;
    ReviewState state = ReviewState::pending;
    std::string created_at;   // UTC, ISO 8601
    std::string reviewed_at;  // empty while pending
    std::string review_note;
};

// Which records a review list shows, newest first, a page at a time.
struct FeedbackFilter {
    std::optional<ReviewState> state;
    std::optional<Rating> rating;
    std::optional<std::string> issue;   // records whose issues include this category
    std::optional<bool> checks_passed;  // every stored check passed (true) or at least one failed
    int64_t before_id = 0;              // 0 = from the newest; else records with id < before_id
    int limit = 50;                     // clamped to [1, kMaxListLimit]
    static constexpr int kMaxListLimit = 500;
};

// A reviewer's decision; `edited_ideal_response` replaces the rewrite when set (approve after editing),
// and `checks` (the checks run on the edited text by the caller: data knows nothing of eval) replace the
// stored ones with it. Setting the state to pending clears reviewed_at.
struct ReviewDecision {
    ReviewState state = ReviewState::approved;
    std::optional<std::string> edited_ideal_response;
    std::vector<StoredCheck> checks;  // used only with edited_ideal_response
    std::string note;
};

// Error codes: "store_unavailable" (cannot open or reach the store, naming the file or host; also a file
// that is not a database, is damaged, or is a database without Mimir's schema_version table),
// "schema_too_new" (written by a newer Mimir), "not_found" (unknown id), "invalid_feedback" (naming
// the field: a required field empty, an issue not in issue_categories()), "write_failed". Every method is
// safe to call from several threads at once, and from several processes sharing one store.
class FeedbackStore {
  public:
    virtual ~FeedbackStore() = default;
    // Returns the new id only once the row is committed and durable.
    virtual Result<int64_t> add(const FeedbackSubmission& submission) = 0;
    virtual Result<FeedbackRecord> get(int64_t id) = 0;
    virtual Result<std::vector<FeedbackRecord>> list(const FeedbackFilter& filter) = 0;
    virtual Result<FeedbackRecord> review(int64_t id, const ReviewDecision& decision) = 0;
    // "sqlite:/path/file.db" or "postgresql://host/db" with the password left out, for logs and status.
    virtual std::string describe() const = 0;
};

// Opens (creating and migrating as needed) the store at `location`: a `postgresql://` or `postgres://`
// URL, else a SQLite file path (its folder is created).
Result<std::unique_ptr<FeedbackStore>> open_feedback_store(const std::string& location);

}  // namespace mimir::data
