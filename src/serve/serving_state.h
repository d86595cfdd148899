// Internal to the serve module: the state every handler shares. The engine currently serving is held by
// shared_ptr; a reload swaps in a new one while requests that copied the old pointer finish on it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "model/engine.h"
#include "model/model_manager.h"
#include "model/model_session.h"
#include "serve/access_control.h"
#include "serve/feedback_service.h"
#include "serve/metrics.h"
#include "serve/server.h"
#include "serve/status_button.h"

namespace mimir::serve {

// Counts a chat request as admitted for as long as it lives; refused when the server is full.
class Admission {
  public:
    Admission(std::atomic<int>& in_flight, int limit);
    ~Admission();
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    bool admitted() const { return admitted_; }

  private:
    std::atomic<int>& in_flight_;
    bool admitted_;
};

// What a reload did: `info` is what the fallback chain found. When every tier failed while a model was
// serving, that model serves on (`kept_previous`) rather than leaving every student with 503s.
struct ReloadResult {
    ModelInfo info;
    bool kept_previous = false;
};

class ServingState {
  public:
    ServingState(ModelPaths paths, ServeOptions options);

    ReloadResult reload();
    // What the server is doing besides serving, shown after the status tooltip ("" = nothing).
    void set_activity(std::string activity);
    // GET /api/status: the model info, the button and the activity, read together.
    nlohmann::json status() const;
    std::shared_ptr<Engine> engine() const;
    ModelInfo info() const;
    StatusButton button() const;
    std::string model_name() const;  // "mimir-<tier>" for the OpenAI "model" field

    // Chat requests beyond this many in flight get 429: the engine's slots plus its queue.
    int admission_limit() const { return options_.engine.n_parallel + options_.engine.max_queue; }
    std::string metrics_text() const;

    const ServeOptions& options() const { return options_; }
    ServerMetrics& metrics() { return metrics_; }
    RateLimiter& rate_limiter() { return rate_limiter_; }
    FeedbackService& feedback() { return feedback_; }
    const TutorPrompter& prompter() const { return *prompter_; }
    std::atomic<int>& in_flight() { return in_flight_; }

  private:
    void publish(std::shared_ptr<Engine> engine, ModelInfo info);

    ServeOptions options_;
    std::shared_ptr<const TutorPrompter> prompter_;
    ModelSession session_;
    ServerMetrics metrics_;
    RateLimiter rate_limiter_;
    FeedbackService feedback_;
    std::atomic<int> in_flight_{0};
    std::mutex reload_mutex_;   // one reload at a time
    mutable std::mutex mutex_;  // guards the four below
    std::shared_ptr<Engine> engine_;
    ModelInfo info_;
    std::string activity_;
    StatusButton button_;
};

}  // namespace mimir::serve
