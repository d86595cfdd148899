// The response guard (agent/response_guard.h) as the chat route applies it to one reply, piece by piece as
// the text comes, counting what it did in /metrics. A cut by the length rule ends the reply with
// finish_reason "length" and cancels the generation, streamed or not: a cut reply costs no more tokens
// than it shows.
// Logprobs, when asked for, describe the model's raw tokens, not the guarded text (docs/api.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/response_guard.h"
#include "model/engine.h"
#include "serve/metrics.h"

namespace mimir::serve {

// The server's settings, switched on or off by the request's "response_guard" when it has one.
GuardSettings guard_settings_for(const GuardSettings& server, std::optional<bool> requested);

// A non-streamed reply generated under the guard: result.text is the guarded text (finish_reason "length"
// after a cut); counted when the guard is on. Errors: Engine::generate's.
Result<GenerationResult> generate_guarded(Engine& engine, GenerationRequest request,
                                          const GuardSettings& settings, ServerMetrics& metrics);

// A streamed reply.
class StreamReplyGuard {
  public:
    StreamReplyGuard(GuardSettings settings, ServerMetrics& metrics);

    // A Text event's text: what to send now (may be empty).
    std::string on_text(std::string_view text);
    // The length rule ended the reply: cancel the generation, send nothing more of it.
    bool stopped() const { return guard_.stopped(); }
    // The Finished event: what to send before the final chunk. Sets result.text to the whole text sent and
    // finish_reason to "length" after a cut (the generation was cancelled for it); counts the reply.
    std::string on_finished(GenerationResult& result);

  private:
    bool enabled_;
    ResponseGuard guard_;
    ServerMetrics& metrics_;
    std::string sent_;
};

}  // namespace mimir::serve
