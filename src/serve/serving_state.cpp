#include "serve/serving_state.h"

#include <spdlog/spdlog.h>

namespace mimir::serve {

Admission::Admission(std::atomic<int>& in_flight, int limit) : in_flight_(in_flight) {
    admitted_ = in_flight_.fetch_add(1) < limit;
}

Admission::~Admission() {
    in_flight_.fetch_sub(1);
}

namespace {

SessionOptions session_options_for(const ServeOptions& options) {
    return SessionOptions{.load = {.use_mmap = options.map_model_files},
                          .engine = options.engine,
                          .system_prompt = options.system_prompt};
}

}  // namespace

ServingState::ServingState(ModelPaths paths, ServeOptions options)
    : options_(std::move(options)),
      prompter_(options_.tutor_prompter
                    ? options_.tutor_prompter
                    : std::make_shared<const TutorPrompter>(TutorPrompter::fixed(options_.system_prompt))),
      session_(std::move(paths), session_options_for(options_)),
      rate_limiter_(options_.rate_limit_per_minute, options_.rate_limit_burst),
      feedback_(options_) {
    info_.fine_tuned_path = session_.paths().fine_tuned;
    info_.adapter_path = session_.paths().adapter;
    info_.base_model_path = session_.paths().base;
    button_ = status_button(info_);
}

ReloadResult ServingState::reload() {
    std::lock_guard reload_lock(reload_mutex_);
    // The tutor prompt is computed before the engine is published, so even the first student after a start
    // or reload reads only their own turn.
    OpenedModel opened = session_.open();
    ReloadResult result{.info = opened.info};
    if (!opened.engine && this->engine()) {
        spdlog::error("event=reload_failed kept_previous=true error=\"{}\"", opened.info.error);
        result.kept_previous = true;
        return result;
    }
    publish(std::move(opened.engine), std::move(opened.info));
    return result;
}

void ServingState::set_activity(std::string activity) {
    std::lock_guard lock(mutex_);
    activity_ = std::move(activity);
    button_ = status_button(info_, activity_);
}

nlohmann::json ServingState::status() const {
    nlohmann::json status;
    {
        std::lock_guard lock(mutex_);
        status = status_json(info_, button_, activity_);
    }
    const data::FeedbackStore* store = feedback_.store();
    status["feedback_store"] = store ? nlohmann::json(store->describe()) : nlohmann::json(nullptr);
    return status;
}

void ServingState::publish(std::shared_ptr<Engine> engine, ModelInfo info) {
    StatusButton next;
    StatusButton previous;
    {
        std::lock_guard lock(mutex_);
        next = status_button(info, activity_);
        previous = button_;
        engine_ = std::move(engine);  // the old engine lives on in the requests still using it
        info_ = std::move(info);
        button_ = next;
    }
    if (previous != next) {
        metrics_.count_status_change();
        spdlog::info("event=status_change from={} to={} tooltip=\"{}\"", button_state_name(previous.state),
                     button_state_name(next.state), next.tooltip);
    }
}

std::shared_ptr<Engine> ServingState::engine() const {
    std::lock_guard lock(mutex_);
    return engine_;
}

ModelInfo ServingState::info() const {
    std::lock_guard lock(mutex_);
    return info_;
}

StatusButton ServingState::button() const {
    std::lock_guard lock(mutex_);
    return button_;
}

std::string ServingState::model_name() const {
    std::lock_guard lock(mutex_);
    return "mimir-" + (info_.tier ? info_.model_type() : std::string("none"));
}

std::string ServingState::metrics_text() const {
    MetricsSnapshotInputs inputs;
    if (std::shared_ptr<Engine> engine = this->engine()) {
        inputs.engine = engine->stats();
        inputs.has_engine = true;
    }
    inputs.loads = session_.counters();
    inputs.state = button().state;
    inputs.resident_memory_bytes = resident_memory_bytes();
    inputs.in_flight = in_flight_.load();
    inputs.prompt_fallback = prompter_->is_fallback();
    return metrics_.render(inputs);
}

}  // namespace mimir::serve
