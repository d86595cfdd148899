#include "cli/demo_serving.h"

#include <spdlog/spdlog.h>

#include <cmath>

namespace mimir::cli {

std::string demo_activity(const DemoProgress& progress) {
    const int percent = static_cast<int>(std::lround(progress.fraction * 100));
    const std::string of_build = " (" + std::to_string(percent) + "% of the demo build)";
    const std::string epochs =
        ": epoch " + std::to_string(progress.epoch) + " of " + std::to_string(progress.epochs);
    switch (progress.stage) {
        case DemoStage::base:
            return "Training the demo base model on the data set's bad replies" + epochs + of_build;
        case DemoStage::adapter:
            return "Training the demo adapter on the ideal replies" + epochs + of_build;
        case DemoStage::fine_tuned:
            return "Merging the demo adapter into the fine-tuned model" + of_build;
        case DemoStage::done:
            break;
    }
    return "";
}

DemoWhileServing::DemoWhileServing(serve::Server& server, DemoOptions options) : server_(server) {
    options.stop = &stop_;
    thread_ = std::thread([this, options = std::move(options)]() mutable { run(std::move(options)); });
}

DemoWhileServing::~DemoWhileServing() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void DemoWhileServing::run(DemoOptions options) {
    // A stage that starts means the one before it wrote its model: the server reloads and serves it.
    DemoStage last = DemoStage::base;
    options.on_progress = [this, &last](const DemoProgress& progress) {
        server_.set_activity(demo_activity(progress));
        if (progress.stage != last) {
            last = progress.stage;
            server_.reload_models();
        }
    };
    Result<DemoModels> built = build_demo_models(options);
    if (!built) {
        spdlog::error("event=demo_build_failed code={} message=\"{}\"", built.error().code,
                      built.error().message);
        server_.set_activity(
            built.error().code == "stopped" ? "" : "The demo build failed: " + built.error().message);
        return;
    }
    spdlog::info("event=demo_ready key={} reused={}", built->key, built->reused);
    server_.set_activity("");
    server_.reload_models();
}

}  // namespace mimir::cli
