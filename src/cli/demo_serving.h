// `mimir serve --demo`: builds the demo models (train/demo_models.h) on a thread beside the running server,
// shows the progress in the status tooltip, and reloads the server as each model is ready, so a first run
// opens at once and the status button goes from orange (base) to green (adapter, then fine-tuned).
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "serve/server.h"
#include "train/demo_models.h"

namespace mimir::cli {

class DemoWhileServing {
  public:
    // Starts building at once. `server` must outlive this object.
    DemoWhileServing(serve::Server& server, DemoOptions options);
    // Stops the build after its current training step (a later run resumes from the finished stages).
    ~DemoWhileServing();
    DemoWhileServing(const DemoWhileServing&) = delete;
    DemoWhileServing& operator=(const DemoWhileServing&) = delete;

  private:
    void run(DemoOptions options);

    serve::Server& server_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// "Training the demo adapter on the ideal replies: epoch 3 of 40 (55% of the demo build)"
std::string demo_activity(const DemoProgress& progress);

}  // namespace mimir::cli
