// POST /v1/chat/completions: admission (rate limit, capacity), validation, then either one JSON response
// or a stream of server-sent events pulled from the engine's GenerationHandle by the HTTP worker itself.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "agent/history_budget.h"
#include "agent/tutor_prompter.h"
#include "model/token_counter.h"
#include "serve/chat_request.h"
#include "serve/http_common.h"
#include "serve/reply_guard.h"
#include "serve/serving_state.h"

namespace mimir::serve {

namespace {

using namespace std::chrono_literals;
using Kind = GenerationEvent::Kind;

// Silence longer than this gets a comment line written: that write is how a vanished client is found
// while its request waits for a slot or its prompt is computed (a write to a closed socket fails).
constexpr auto kProbeInterval = 250ms;

// A request with "debug": true gets the prompt choice as "mimir" in its response (or last chunk).
nlohmann::json with_debug(nlohmann::json response, const nlohmann::json& debug) {
    if (!debug.is_null()) response["mimir"] = debug;
    return response;
}

// One streamed completion, owned by the chunked content provider: when the client goes away the provider
// is dropped, the handle is destroyed, and destroying it cancels the generation.
struct Stream {
    std::shared_ptr<Admission> admission;
    std::shared_ptr<Engine> engine;  // stays alive until the stream ends, even if a reload swaps it out
    std::unique_ptr<GenerationHandle> handle;
    CompletionId id;
    ServingState* state;
    std::unique_ptr<StreamReplyGuard> guard;
    nlohmann::json debug;  // added to the last chunk when the request asked for it

    bool write(httplib::DataSink& sink, std::string_view data) {
        if (sink.write(data.data(), data.size())) return true;
        handle->cancel();
        state->metrics().count_disconnect();
        spdlog::info("event=client_disconnected id={}", id.id);
        return false;
    }

    bool write_error(httplib::DataSink& sink, const Error& error) {
        const HttpError http = http_error_for(error.code);
        state->metrics().count_error(std::string(http.type), std::string(http.code));
        return write(sink, sse_event(to_text(error_json(http.code, error.message, http.type)))) &&
               write(sink, kSseDone);
    }

    // What the response guard lets through of a Text event (with its tokens' logprobs); when its length rule
    // ends the reply, the generation is cancelled.
    bool send_text(httplib::DataSink& sink, const GenerationEvent& event) {
        const std::string text = guard->on_text(event.text);
        if (guard->stopped()) handle->cancel();
        if (text.empty() && event.logprobs.empty()) return true;
        return write(sink, sse_event(to_text(text_chunk_json(id, text, event.logprobs))));
    }

    // What the guard held back until the end, before the final chunk (whose finish_reason it may set).
    bool send_rest(httplib::DataSink& sink, GenerationResult& result) {
        const std::string rest = guard->on_finished(result);
        return rest.empty() || write(sink, sse_event(to_text(text_chunk_json(id, rest))));
    }

    // Returns false when the client disconnected (httplib then closes the connection).
    bool pump(httplib::DataSink& sink) {
        if (!write(sink, sse_event(to_text(role_chunk_json(id))))) return false;
        for (;;) {
            GenerationEvent event = handle->next(kProbeInterval);
            switch (event.kind) {
                case Kind::Text:
                    if (!send_text(sink, event)) return false;
                    break;
                case Kind::Idle:
                    if (!write(sink, ":\n\n")) return false;
                    break;
                case Kind::Finished:
                    if (!send_rest(sink, event.result)) return false;
                    state->metrics().record_generation(event.result);
                    if (!write(sink,
                               sse_event(to_text(with_debug(final_chunk_json(id, event.result), debug)))))
                        return false;
                    if (!write(sink, kSseDone)) return false;
                    sink.done();
                    return true;
                case Kind::Failed:
                    if (!write_error(sink, event.error)) return false;
                    sink.done();
                    return true;
            }
        }
    }
};

// Fits the conversation to --history-budget before the engine sees it (the engine's own fitting to the
// context stays behind it), and logs the turns it dropped.
std::vector<ChatMessage> within_history_budget(std::vector<ChatMessage> messages,
                                               const std::shared_ptr<Engine>& engine, int budget,
                                               const CompletionId& id) {
    if (budget <= 0) return messages;
    // The counter holds the engine, and with it the model, only while this request fits its history.
    const std::shared_ptr<const LoadedModel> model(engine, &engine->model());
    FittedHistory fitted = fit_history(std::move(messages), budget, token_counter_of(model));
    if (fitted.dropped_turns > 0) {
        spdlog::info("event=history_fitted id={} dropped_turns={} history_tokens={} budget={}", id.id,
                     fitted.dropped_turns, fitted.tokens, budget);
    }
    return std::move(fitted.messages);
}

// The tutor prompt chosen for this conversation (fixed, or snippets for its last turns), logged as one line.
PromptChoice choose_prompt(const ServingState& state, const std::vector<ChatMessage>& messages,
                           const CompletionId& id) {
    PromptChoice choice = state.prompter().choose(messages);
    spdlog::info("event=prompt_choice id={} {}", id.id, describe_choice(choice));
    return choice;
}

void handle_chat(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    if (!state.rate_limiter().allow(client_address(req, state.options().trust_forwarded_for))) {
        res.set_header("Retry-After", std::to_string(state.rate_limiter().retry_after_seconds()));
        return send_error(res, state, Error{"rate_limited", "too many requests from this client; slow down"});
    }
    std::shared_ptr<Engine> engine = state.engine();
    if (!engine)
        return send_error(res, state,
                          Error{"model_not_loaded", "no model is loaded: " + state.button().tooltip});
    ChatRequestLimits limits;
    limits.max_tokens = engine->context_size();
    Result<ChatCompletionRequest> parsed = parse_chat_request(req.body, limits);
    if (!parsed) return send_error(res, state, parsed.error());

    auto admission = std::make_shared<Admission>(state.in_flight(), state.admission_limit());
    if (!admission->admitted())
        return send_error(res, state, Error{"server_busy", "the server is at capacity; retry shortly"});
    CompletionId id = CompletionId::make(state.model_name());
    const PromptChoice choice = choose_prompt(state, parsed->messages, id);
    const nlohmann::json debug = parsed->debug ? prompt_debug_json(choice) : nlohmann::json();
    GenerationRequest generation;
    generation.messages = with_prompt_choice(std::move(parsed->messages), choice);
    generation.messages =
        within_history_budget(std::move(generation.messages), engine, state.options().history_budget, id);
    generation.sampling = parsed->sampling;
    const GuardSettings guard_settings =
        guard_settings_for(state.options().response_guard, parsed->response_guard);

    if (!parsed->stream) {
        Result<GenerationResult> result =
            generate_guarded(*engine, std::move(generation), guard_settings, state.metrics());
        if (!result) return send_error(res, state, result.error());
        state.metrics().record_generation(*result);
        return send_json(res, 200,
                         with_debug(completion_json(id, *result, parsed->sampling.logprobs), debug));
    }

    // Refusals (busy, context exceeded, ...) come back before anything is queued, as a proper HTTP status.
    // After that the stream starts at once, so that a client leaving during the prompt or the queue is
    // noticed (see pump).
    Result<std::unique_ptr<GenerationHandle>> handle = engine->submit(std::move(generation));
    if (!handle) return send_error(res, state, handle.error());
    auto stream = std::make_shared<Stream>(
        Stream{std::move(admission), std::move(engine), std::move(*handle), std::move(id), &state,
               std::make_unique<StreamReplyGuard>(guard_settings, state.metrics()), debug});
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream", [stream](size_t, httplib::DataSink& sink) { return stream->pump(sink); });
}

}  // namespace

void handle_chat_completion(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    handle_chat(req, res, state);
}

}  // namespace mimir::serve
