#include "model/model_session.h"

#include <spdlog/spdlog.h>

namespace mimir {

namespace {

Result<int> prefill(Engine& engine, const std::string& system_prompt) {
    Result<int> prefilled = engine.prefill_system_prompt(system_prompt);
    if (!prefilled) {
        spdlog::warn("event=system_prompt_prefill_failed code={} message=\"{}\"", prefilled.error().code,
                     prefilled.error().message);
    }
    return prefilled;
}

}  // namespace

ModelSession::ModelSession(ModelPaths paths, SessionOptions options)
    : models_(std::move(paths), options.load), options_(std::move(options)) {}

OpenedModel ModelSession::open() {
    OpenedModel opened;
    opened.info = models_.load_with_fallback();
    std::shared_ptr<const LoadedModel> model = models_.current();
    if (!model || opened.info.status != ModelStatus::Loaded) return opened;

    Result<std::unique_ptr<Engine>> created = Engine::create(model, options_.engine);
    if (!created) {
        spdlog::error("event=engine_create_failed code={} message=\"{}\"", created.error().code,
                      created.error().message);
        opened.info.status = ModelStatus::Error;
        opened.info.error = "engine: " + created.error().message;
        return opened;
    }
    opened.engine = std::move(created.value());
    if (options_.system_prompt.empty()) return opened;
    if (options_.prefill_in_background) {
        // The task holds its own reference, so the engine outlives it whatever the caller drops first.
        opened.prefill =
            std::async(std::launch::async, [engine = opened.engine, prompt = options_.system_prompt] {
                return prefill(*engine, prompt);
            }).share();
    } else {
        (void)prefill(*opened.engine, options_.system_prompt);
    }
    return opened;
}

}  // namespace mimir
