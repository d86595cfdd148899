// Who may do what: the admin API key (compared in constant time so response timing reveals nothing about
// it) and a per-client token-bucket rate limit on the expensive endpoints.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace mimir::serve {

// True when a == b; the time taken depends only on the length of `provided`, never on where they differ.
bool constant_time_equals(std::string_view expected, std::string_view provided);

// The key from "Authorization: Bearer <key>" (or the bare header value of X-API-Key); empty if absent.
std::string bearer_token(std::string_view authorization_header);

// Token bucket per client address: `per_minute` requests a minute on average, bursts up to `burst`.
// Thread-safe. Idle clients are forgotten so the table stays bounded.
class RateLimiter {
  public:
    using Clock = std::chrono::steady_clock;
    RateLimiter(int per_minute, int burst);

    // False when `client` has used up its budget; per_minute == 0 disables limiting.
    bool allow(const std::string& client, Clock::time_point now = Clock::now());
    // Seconds until `client` gets its next token (for Retry-After).
    int retry_after_seconds() const;
    size_t tracked_clients() const;

  private:
    struct Bucket {
        double tokens;
        Clock::time_point updated;
    };
    void forget_idle(Clock::time_point now);

    double per_second_;
    double burst_;
    mutable std::mutex mutex_;
    std::map<std::string, Bucket> buckets_;
    static constexpr size_t kMaxTrackedClients = 10000;
};

}  // namespace mimir::serve
