// `mimir serve`: the HTTP server with the OpenAI-compatible chat API, the status and metrics endpoints
// and the embedded chat page. The public face of the serve module; HTTP library types stay inside.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "agent/response_guard.h"
#include "agent/tutor_prompter.h"
#include "data/feedback_store.h"
#include "model/engine.h"
#include "model/model_manager.h"
#include "support/result.h"

namespace mimir::serve {

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 7860;                  // 0 = any free port (see Server::port())
    EngineOptions engine;             // --ctx, --parallel, --threads, --max-queue
    std::string api_key;              // required by POST /api/models/reload; empty = reload refused
    size_t max_body_bytes = 1 << 20;  // larger request bodies get 413
    int rate_limit_per_minute = 60;   // per client address on the chat endpoint; 0 = off
    int rate_limit_burst = 20;
    bool trust_forwarded_for = false;  // behind a reverse proxy: rate-limit by its X-Forwarded-For
    int read_timeout_seconds = 10;     // a client slower than this sending its request is dropped
    // Tokens of conversation history a request keeps (agent/history_budget.h), fitted before the engine
    // sees it; 0 = off (the engine alone drops turns that do not fit the context).
    int history_budget = 0;
    // The engine's shared system prompt (its KV is computed once per load): the tutor prompt, or with
    // snippets the always-present part of it (TutorPrompter::shared_prefix()).
    std::string system_prompt;
    // Chooses each conversation's system prompt; null: `system_prompt` alone, for every conversation.
    std::shared_ptr<const TutorPrompter> tutor_prompter;
    // Map model files (faster load) instead of reading them into memory. Off by default: a served file
    // overwritten in place (cp onto it, a training run writing there) would change or vanish under the
    // running model and kill the process with SIGBUS. Reading also takes less memory where llama.cpp
    // repacks weights (mapped pages stay resident beside their repacked copies), but loads slower.
    bool map_model_files = false;
    // The learning loop's feedback store: a SQLite file or a postgresql:// URL (data/feedback_store.h).
    // start() fails when it cannot open; empty = no store, the feedback endpoints answer 503.
    std::string data_location;
    std::shared_ptr<data::FeedbackStore> feedback_store;  // an open store, used instead of data_location
    std::string phrases_dir = "data/checks";  // the checks' phrase lists, as `mimir eval --phrases`
    int feedback_rate_limit_per_minute = 30;  // per client on POST /api/feedback and /check; 0 = off
    int feedback_rate_limit_burst = 10;
    // The response guard on every reply (--response-guard, --guard-max-words); a request's
    // "response_guard": true|false overrides `enabled` for its reply.
    GuardSettings response_guard;
};

// The process must ignore SIGPIPE (mimir's main does): Debian's cpp-httplib writes without MSG_NOSIGNAL,
// so a client closing its socket mid-stream would otherwise kill the process instead of failing the write.
class Server {
  public:
    Server(ModelPaths paths, ServeOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Opens the feedback store, binds and starts answering on background threads. Until a model loads,
    // /health answers 503 and chat requests 503. Errors: "bind_failed" naming host and port; the store's
    // ("store_unavailable", "schema_too_new", ...) and the phrase lists' when a store is given.
    Status start();
    // The port actually bound (differs from options.port when that was 0).
    int port() const;

    // Runs the fallback chain and swaps in a new engine; requests already streaming finish on the old
    // one. Safe to call while serving; concurrent calls run one after another. Returns what the chain found;
    // when every tier failed while a model was serving, that model keeps serving (and /api/status says so).
    ModelInfo reload_models();

    // Shown after the status tooltip until replaced ("" clears it): what the server is doing besides
    // serving, e.g. "Training the demo adapter: epoch 3 of 20". Thread-safe.
    void set_activity(std::string activity);

    // Blocks until stop() is called (from another thread or a signal handler's thread).
    void wait();
    void stop();

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace mimir::serve
