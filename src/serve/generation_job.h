// One chat generation running on its own thread, so that the HTTP thread writing to a (possibly slow)
// client never blocks the engine's decode loop: the engine's callback only appends text to a buffer,
// and the HTTP side drains it at its own pace. Destroying the job cancels it and waits for the engine
// to let go, so a disconnected client frees its slot at once.
// Text goes out at once when it is the first in a while, and otherwise at most every kTextInterval: a fast
// model's tokens leave in fewer, larger pieces, so the HTTP thread does not wake (and take a core from the
// engine's compute threads) for every token. A reader still sees 50 updates a second; a Phi-3-mini token
// (~170 ms on a CPU) is never held back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "model/engine.h"
#include "support/result.h"

namespace mimir::serve {

class GenerationJob {
  public:
    static constexpr std::chrono::milliseconds kTextInterval{20};

    struct Event {
        enum class Kind { Text, Finished, Failed, Idle };
        Kind kind = Kind::Idle;
        std::string text;         // Text: everything produced since the last event
        GenerationResult result;  // Finished
        Error error;              // Failed
    };

    // Starts generating at once. `engine` stays alive until the job ends, even if a reload swaps it out.
    GenerationJob(std::shared_ptr<Engine> engine, GenerationRequest request);
    ~GenerationJob();
    GenerationJob(const GenerationJob&) = delete;
    GenerationJob& operator=(const GenerationJob&) = delete;

    // Waits up to `timeout` for new text or the end; Idle when nothing happened in that time.
    Event next(std::chrono::milliseconds timeout);
    void cancel();

  private:
    void run(GenerationRequest request);

    std::shared_ptr<Engine> engine_;
    std::shared_ptr<std::atomic<bool>> cancelled_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string pending_text_;
    bool wake_sent_ = false;  // the reader was woken for pending_text_ already
    std::chrono::steady_clock::time_point last_text_{};
    std::optional<Result<GenerationResult>> outcome_;
    bool outcome_delivered_ = false;
    std::thread thread_;
};

}  // namespace mimir::serve
