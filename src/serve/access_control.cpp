#include "serve/access_control.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace mimir::serve {

bool constant_time_equals(std::string_view expected, std::string_view provided) {
    // Walk all of `provided`, comparing against `expected` cyclically, and fold the length difference in:
    // no early exit, so a guess that shares a prefix with the key takes as long as one that does not.
    unsigned difference = expected.size() == provided.size() ? 0u : 1u;
    if (expected.empty()) return provided.empty();
    for (size_t i = 0; i < provided.size(); ++i)
        difference |= static_cast<unsigned char>(expected[i % expected.size()]) ^
                      static_cast<unsigned char>(provided[i]);
    return difference == 0 && !provided.empty();
}

std::string bearer_token(std::string_view header) {
    constexpr std::string_view kScheme = "Bearer ";
    if (header.size() > kScheme.size() &&
        std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
        header.remove_prefix(kScheme.size());
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
    return std::string(header);
}

RateLimiter::RateLimiter(int per_minute, int burst)
    : per_second_(std::max(0, per_minute) / 60.0), burst_(std::max(1, burst)) {}

bool RateLimiter::allow(const std::string& client, Clock::time_point now) {
    if (per_second_ <= 0) return true;
    std::lock_guard lock(mutex_);
    if (buckets_.size() >= kMaxTrackedClients) forget_idle(now);
    auto [it, inserted] = buckets_.try_emplace(client, Bucket{burst_, now});
    Bucket& bucket = it->second;
    const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(burst_, bucket.tokens + std::max(0.0, elapsed) * per_second_);
    bucket.updated = now;
    if (bucket.tokens < 1.0) return false;
    bucket.tokens -= 1.0;
    return true;
}

int RateLimiter::retry_after_seconds() const {
    return per_second_ > 0 ? static_cast<int>(std::ceil(1.0 / per_second_)) : 0;
}

size_t RateLimiter::tracked_clients() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

void RateLimiter::forget_idle(Clock::time_point now) {
    // A bucket idle long enough to have refilled completely is the same as no bucket.
    const auto refill = std::chrono::duration<double>(burst_ / per_second_);
    std::erase_if(buckets_, [&](const auto& entry) { return now - entry.second.updated >= refill; });
    // Under a flood of distinct addresses nothing may be idle yet: drop the table rather than grow it.
    if (buckets_.size() >= kMaxTrackedClients) buckets_.clear();
}

}  // namespace mimir::serve
