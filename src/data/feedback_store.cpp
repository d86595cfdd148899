#include "data/feedback_store.h"

#include <string_view>

#include "data/feedback_store_backends.h"

namespace mimir::data {

const char* to_string(Rating rating) {
    switch (rating) {
        case Rating::up:
            return "up";
        case Rating::down:
            return "down";
        case Rating::none:
            break;
    }
    return "none";
}

const char* to_string(ReviewState state) {
    switch (state) {
        case ReviewState::approved:
            return "approved";
        case ReviewState::rejected:
            return "rejected";
        case ReviewState::pending:
            break;
    }
    return "pending";
}

std::optional<Rating> rating_from_string(const std::string& text) {
    for (Rating rating : {Rating::none, Rating::up, Rating::down}) {
        if (text == to_string(rating)) return rating;
    }
    return std::nullopt;
}

std::optional<ReviewState> review_state_from_string(const std::string& text) {
    for (ReviewState state : {ReviewState::pending, ReviewState::approved, ReviewState::rejected}) {
        if (text == to_string(state)) return state;
    }
    return std::nullopt;
}

const std::vector<std::string>& issue_categories() {
    static const std::vector<std::string> categories = {
        "Tone", "Writing Quality", "Instruction Following", "Accuracy", "Gives the Answer Away", "Other"};
    return categories;
}

Result<std::unique_ptr<FeedbackStore>> open_feedback_store(const std::string& location) {
    const std::string_view view(location);
    if (view.starts_with("postgresql://") || view.starts_with("postgres://"))
        return open_postgres_feedback_store(location);
    if (location.empty()) return Error{"store_unavailable", "no feedback store given (--data FILE or URL)"};
    return open_sqlite_feedback_store(location);
}

}  // namespace mimir::data
