#include "model/stop_strings.h"

#include <algorithm>

namespace mimir {

namespace {
// Length of the longest suffix of `text` that is a proper prefix of `stop`.
size_t partial_match_length(std::string_view text, std::string_view stop) {
    for (size_t n = std::min(text.size(), stop.size() - 1); n > 0; --n) {
        if (text.substr(text.size() - n) == stop.substr(0, n)) return n;
    }
    return 0;
}
}  // namespace

std::string StopStringFilter::push(std::string_view text) {
    if (stopped_) return {};
    held_.append(text);
    size_t first_stop = std::string::npos;
    for (const std::string& stop : stop_strings_) first_stop = std::min(first_stop, held_.find(stop));
    if (first_stop != std::string::npos) {
        stopped_ = true;
        std::string out = held_.substr(0, first_stop);
        held_.clear();
        return out;
    }
    size_t hold = 0;
    for (const std::string& stop : stop_strings_) hold = std::max(hold, partial_match_length(held_, stop));
    std::string out = held_.substr(0, held_.size() - hold);
    held_.erase(0, held_.size() - hold);
    return out;
}

std::string StopStringFilter::flush() {
    std::string out = stopped_ ? std::string() : std::move(held_);
    held_.clear();
    return out;
}

}  // namespace mimir
