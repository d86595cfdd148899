// Counters the server keeps about itself, and their rendering in the Prometheus text format (version
// 0.0.4) for GET /metrics. Thread-safe: handlers record from many threads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>

#include "agent/response_guard.h"
#include "model/engine.h"
#include "model/model_manager.h"
#include "serve/status_button.h"

namespace mimir::serve {

// A cumulative histogram with fixed bucket bounds (seconds), as Prometheus expects.
class Histogram {
  public:
    static constexpr std::array<double, 10> kBounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    void observe(double value);
    std::string render(const std::string& name, const std::string& help) const;

  private:
    mutable std::mutex mutex_;
    std::array<uint64_t, kBounds.size()> counts_{};
    uint64_t count_ = 0;
    double sum_ = 0;
};

// What the serving state adds beyond the ModelManager's and Engine's own counters.
struct MetricsSnapshotInputs {
    EngineStats engine;  // zero when no engine
    bool has_engine = false;
    LoadCounters loads;
    ButtonState state = ButtonState::Warning;
    uint64_t resident_memory_bytes = 0;
    int in_flight = 0;             // chat requests admitted and not finished
    bool prompt_fallback = false;  // the fixed prompt serves because the snippets failed to load
};

class ServerMetrics {
  public:
    void count_request(const std::string& route, int status);
    void count_error(const std::string& type, const std::string& code);
    void count_status_change();
    void count_disconnect();
    // One feedback row committed, by its rating ("up", "down", "none").
    void count_feedback_submission(const std::string& rating);
    // A feedback store call that failed (the client got 503 store_unavailable).
    void count_feedback_store_error();
    // One finished generation: tokens produced, time to first token and decode speed.
    void record_generation(const GenerationResult& result);
    // One reply the response guard saw, and what each of its rules changed.
    void record_guarded_reply(const GuardTally& tally);

    uint64_t status_changes() const { return status_changes_.load(); }
    uint64_t errors_of_type(const std::string& type) const;

    std::string render(const MetricsSnapshotInputs& inputs) const;

  private:
    void render_guard(std::ostringstream& out) const;  // with mutex_ held

    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    std::map<std::pair<std::string, std::string>, uint64_t> errors_;
    std::atomic<uint64_t> status_changes_{0};
    std::atomic<uint64_t> disconnects_{0};
    std::atomic<uint64_t> generated_tokens_{0};
    std::atomic<uint64_t> prompt_tokens_{0};
    std::atomic<uint64_t> completions_{0};
    std::map<std::string, uint64_t> feedback_submissions_{{"down", 0}, {"none", 0}, {"up", 0}};  // mutex_
    std::atomic<uint64_t> feedback_store_errors_{0};
    GuardTally guard_fired_;              // guarded by mutex_
    uint64_t guarded_replies_ = 0;        // guarded by mutex_
    uint64_t guard_changed_replies_ = 0;  // guarded by mutex_
    double generation_seconds_ = 0;       // guarded by mutex_
    double last_tokens_per_second_ = 0;   // guarded by mutex_
    Histogram time_to_first_token_;
    Histogram request_duration_;
};

}  // namespace mimir::serve
