// POST /v1/chat/completions: admission (rate limit, capacity), validation, then either one JSON response
// or a stream of server-sent events fed by a GenerationJob.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "agent/tutor_prompt.h"
#include "serve/chat_request.h"
#include "serve/generation_job.h"
#include "serve/http_common.h"
#include "serve/serving_state.h"

namespace mimir::serve {

namespace {

using namespace std::chrono_literals;
using Kind = GenerationJob::Event::Kind;

constexpr auto kRefusalWait = 250ms;
// Silence longer than this gets a comment line written: that write is how a vanished client is found
// while its request waits for a slot or its prompt is computed (a write to a closed socket fails).
constexpr auto kProbeInterval = 250ms;

void send_engine_error(httplib::Response& res, ServingState& state, const Error& error) {
    const int status = status_for_error_code(error.code);
    const std::string code = error.code == "context_exceeded" ? "context_length_exceeded"
                             : error.code == "busy"           ? "server_busy"
                                                              : error.code;
    if (status == 429) res.set_header("Retry-After", "1");
    send_error(res, state, status, code, error.message);
}

// One streamed completion, owned by the chunked content provider: when the client goes away the provider
// is dropped, the job is destroyed, and destroying it cancels the generation.
struct Stream {
    std::shared_ptr<Admission> admission;
    std::shared_ptr<GenerationJob> job;
    CompletionId id;
    GenerationJob::Event first;
    ServingState* state;

    bool write(httplib::DataSink& sink, std::string_view data) {
        if (sink.write(data.data(), data.size())) return true;
        job->cancel();
        state->metrics().count_disconnect();
        spdlog::info("event=client_disconnected id={}", id.id);
        return false;
    }

    // Returns false when the client disconnected (httplib then closes the connection).
    bool pump(httplib::DataSink& sink) {
        if (!write(sink, sse_event(to_text(role_chunk_json(id))))) return false;
        GenerationJob::Event event = std::move(first);
        for (;;) {
            switch (event.kind) {
                case Kind::Text:
                    if (!write(sink, sse_event(to_text(text_chunk_json(id, event.text))))) return false;
                    break;
                case Kind::Idle:
                    if (!write(sink, ":\n\n")) return false;
                    break;
                case Kind::Finished:
                    state->metrics().record_generation(event.result);
                    if (!write(sink, sse_event(to_text(final_chunk_json(id, event.result))))) return false;
                    if (!write(sink, kSseDone)) return false;
                    sink.done();
                    return true;
                case Kind::Failed: {
                    const int status = status_for_error_code(event.error.code);
                    state->metrics().count_error(error_type_for_status(status), event.error.code);
                    nlohmann::json body =
                        error_json(event.error.code, event.error.message, error_type_for_status(status));
                    if (!write(sink, sse_event(to_text(body))) || !write(sink, kSseDone)) return false;
                    sink.done();
                    return true;
                }
            }
            event = job->next(kProbeInterval);
        }
    }
};

void handle_chat(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    if (!state.rate_limiter().allow(client_address(req, state.options().trust_forwarded_for))) {
        res.set_header("Retry-After", std::to_string(state.rate_limiter().retry_after_seconds()));
        return send_error(res, state, 429, "rate_limited", "too many requests from this client; slow down");
    }
    std::shared_ptr<Engine> engine = state.engine();
    if (!engine)
        return send_error(res, state, 503, "model_not_loaded",
                          "no model is loaded: " + state.button().tooltip);
    ChatRequestLimits limits;
    limits.max_tokens = engine->context_size();
    Result<ChatCompletionRequest> parsed = parse_chat_request(req.body, limits);
    if (!parsed) return send_error(res, state, 400, parsed.error().code, parsed.error().message);

    auto admission = std::make_shared<Admission>(state.in_flight(), state.admission_limit());
    if (!admission->admitted()) {
        res.set_header("Retry-After", "1");
        return send_error(res, state, 429, "server_busy", "the server is at capacity; retry shortly");
    }
    GenerationRequest generation;
    generation.messages =
        with_tutor_system_prompt(std::move(parsed->messages), state.options().system_prompt);
    generation.sampling = parsed->sampling;
    CompletionId id = CompletionId::make(state.model_name());

    if (!parsed->stream) {
        generation.on_text = [](std::string_view) { return true; };
        Result<GenerationResult> result = engine->generate(std::move(generation));
        if (!result) return send_engine_error(res, state, result.error());
        state.metrics().record_generation(*result);
        return send_json(res, 200, completion_json(id, *result));
    }

    auto job = std::make_shared<GenerationJob>(std::move(engine), std::move(generation));
    // The engine refuses a request (busy, context exceeded) before it queues it: a short wait lets that
    // refusal go out as a proper HTTP status rather than an error inside a 200 stream. After that the
    // stream starts, so that a client leaving during the prompt or the queue is noticed (see pump).
    GenerationJob::Event first = job->next(kRefusalWait);
    if (first.kind == Kind::Failed) return send_engine_error(res, state, first.error);

    auto stream = std::make_shared<Stream>(Stream{admission, job, std::move(id), std::move(first), &state});
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
