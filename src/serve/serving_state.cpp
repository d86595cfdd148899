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

LoadOptions load_options_for(const ServeOptions& options) {
    LoadOptions load;
    load.use_mmap = options.map_model_files;
    return load;
}

}  // namespace

ServingState::ServingState(ModelPaths paths, ServeOptions options)
    : options_(std::move(options)),
      models_(std::move(paths), load_options_for(options_)),
      rate_limiter_(options_.rate_limit_per_minute, options_.rate_limit_burst) {
    info_.status = "loading";
    info_.fine_tuned_path = models_.paths().fine_tuned;
    info_.adapter_path = models_.paths().adapter;
    info_.base_model_path = models_.paths().base;
    button_ = status_button(info_);
}

ReloadResult ServingState::reload() {
    std::lock_guard reload_lock(reload_mutex_);
    ReloadResult result;
    ModelInfo& info = result.info;
    info = models_.load_with_fallback();
    std::shared_ptr<Engine> engine;
    if (std::shared_ptr<const LoadedModel> model = models_.current(); model && info.status == "loaded") {
        Result<std::unique_ptr<Engine>> created = Engine::create(model, options_.engine);
        if (created) {
            engine = std::move(created.value());
            prefill_tutor_prompt(*engine);
        } else {
            spdlog::error("event=engine_create_failed code={} message=\"{}\"", created.error().code,
                          created.error().message);
            info.status = "error";
            info.error = "engine: " + created.error().message;
        }
    }
    if (!engine && this->engine()) {
        spdlog::error("event=reload_failed kept_previous=true error=\"{}\"", info.error);
        result.kept_previous = true;
        return result;
    }
    publish(std::move(engine), info);
    return result;
}

void ServingState::prefill_tutor_prompt(Engine& engine) const {
    // Before the engine is published, so even the first student after a start or reload reads only their
    // own turn. A failure only costs that speed-up: conversations compute the prompt themselves.
    if (options_.system_prompt.empty()) return;
    Result<int> prefilled = engine.prefill_system_prompt(options_.system_prompt);
    if (!prefilled) {
        spdlog::warn("event=system_prompt_prefill_failed code={} message=\"{}\"", prefilled.error().code,
                     prefilled.error().message);
    }
}

void ServingState::publish(std::shared_ptr<Engine> engine, ModelInfo info) {
    StatusButton next = status_button(info);
    StatusButton previous;
    {
        std::lock_guard lock(mutex_);
        previous = button_;
        engine_ = std::move(engine);  // the old engine lives on in the requests still using it
        info_ = std::move(info);
        button_ = next;
    }
    if (previous != next) {
        metrics_.count_status_change();
        spdlog::info("event=status_change from={} to={} tooltip=\"{}\"", previous.state, next.state,
                     next.tooltip);
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
    return "mimir-" + (info_.model_type.empty() ? std::string("none") : info_.model_type);
}

std::string ServingState::metrics_text() const {
    MetricsSnapshotInputs inputs;
    if (std::shared_ptr<Engine> engine = this->engine()) {
        inputs.engine = engine->stats();
        inputs.has_engine = true;
    }
    inputs.loads = models_.counters();
    inputs.state = button().state;
    inputs.resident_memory_bytes = resident_memory_bytes();
    inputs.in_flight = in_flight_.load();
    return metrics_.render(inputs);
}

}  // namespace mimir::serve
