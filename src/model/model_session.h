// One served model: the fallback chain's winner, an engine generating on it, and the tutor prompt's KV
// computed before the first student arrives. `mimir chat`, `mimir serve` and `mimir eval` open their models
// through it, so loading, engine creation and prefill happen the same way everywhere.
#pragma once

#include <future>
#include <memory>
#include <string>

#include "model/engine.h"
#include "model/model_manager.h"

namespace mimir {

struct SessionOptions {
    LoadOptions load;
    EngineOptions engine;
    // The fixed tutor prompt, or the always-present prefix of prompts built from snippets (identity and
    // tone): pinned in the engine's shared KV at open (Engine::prefill_system_prompt); empty = none.
    std::string system_prompt;
    // open() returns before the prompt is computed: a terminal chat computes it while the student types.
    // Requests submitted meanwhile queue behind it.
    bool prefill_in_background = false;
};

// What one open() produced. `engine` is null when no tier loaded or no engine could be created on the
// winner; then info.status is Error and info.error says why.
struct OpenedModel {
    ModelInfo info;
    std::shared_ptr<Engine> engine;
    // With prefill_in_background: the number of prompt tokens computed, or why it failed. Declared after
    // the engine so that it is destroyed first: destroying it waits for the prefill.
    std::shared_future<Result<int>> prefill;
};

class ModelSession {
  public:
    ModelSession(ModelPaths paths, SessionOptions options);

    // Runs the fallback chain, creates an engine on the winner and computes the tutor prompt. A prompt that
    // cannot be prefilled only costs speed (logged; conversations then compute it themselves). Thread-safe;
    // opens run one after another. Each call loads afresh: a server calls it again to reload.
    OpenedModel open();

    LoadCounters counters() const { return models_.counters(); }
    const ModelPaths& paths() const { return models_.paths(); }
    const SessionOptions& options() const { return options_; }

  private:
    ModelManager models_;
    SessionOptions options_;
};

}  // namespace mimir
