#include "serve/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <thread>
#include <utility>

#include "serve/chat_request.h"
#include "serve/http_common.h"
#include "serve/serving_state.h"
#include "serve/static_assets.h"

namespace mimir::serve {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(to_text(body), "application/json");
}

namespace {

constexpr std::string_view kInvalidRequest = "invalid_request_error";
constexpr std::string_view kServerError = "server_error";
constexpr std::string_view kUnavailable = "service_unavailable_error";

// Codes whose wire name differs from the engine's own take OpenAI's (or llama-server's) name. Everything
// that means "no model can serve" (a tier that failed to load, an engine that could not start) is
// model_not_loaded: the client can do nothing about which.
constexpr std::array<std::pair<std::string_view, HttpError>, 34> kErrorMap = {{
    {"invalid_request", {400, "invalid_request", kInvalidRequest}},
    {"context_exceeded", {400, "context_length_exceeded", kInvalidRequest}},
    {"invalid_path", {400, "invalid_path", kInvalidRequest}},
    {"bad_request", {400, "bad_request", kInvalidRequest}},
    {"invalid_api_key", {401, "invalid_api_key", "authentication_error"}},
    {"reload_disabled", {403, "reload_disabled", "permission_error"}},
    {"not_found", {404, "not_found", kInvalidRequest}},
    {"method_not_allowed", {405, "method_not_allowed", kInvalidRequest}},
    {"request_timeout", {408, "request_timeout", kInvalidRequest}},
    {"request_too_large", {413, "request_too_large", kInvalidRequest}},
    {"uri_too_long", {414, "uri_too_long", kInvalidRequest}},
    {"reload_failed", {422, "reload_failed", kInvalidRequest}},
    {"rate_limited", {429, "rate_limited", "rate_limit_error"}},
    {"busy", {429, "server_busy", "rate_limit_error"}},
    {"server_busy", {429, "server_busy", "rate_limit_error"}},
    {"model_not_loaded", {503, "model_not_loaded", kUnavailable}},
    {"model_loading", {503, "model_loading", kUnavailable}},
    {"shutting_down", {503, "shutting_down", kUnavailable}},
    {"no_model", {503, "model_not_loaded", kUnavailable}},
    {"invalid_options", {503, "model_not_loaded", kUnavailable}},
    {"context_failed", {503, "model_not_loaded", kUnavailable}},
    {"adapter_failed", {503, "model_not_loaded", kUnavailable}},
    {"not_configured", {503, "model_not_loaded", kUnavailable}},
    {"not_gguf", {503, "model_not_loaded", kUnavailable}},
    {"truncated", {503, "model_not_loaded", kUnavailable}},
    {"corrupt", {503, "model_not_loaded", kUnavailable}},
    {"wrong_architecture", {503, "model_not_loaded", kUnavailable}},
    {"vocab_mismatch", {503, "model_not_loaded", kUnavailable}},
    {"adapter_mismatch", {503, "model_not_loaded", kUnavailable}},
    {"out_of_memory", {503, "model_not_loaded", kUnavailable}},
    {"load_failed", {503, "model_not_loaded", kUnavailable}},
    {"internal_error", {500, "internal_error", kServerError}},
    {"decode_failed", {500, "decode_failed", kServerError}},
    {"template_failed", {500, "template_failed", kServerError}},
}};

}  // namespace

HttpError http_error_for(std::string_view code) {
    for (const auto& [known, error] : kErrorMap) {
        if (known == code) return error;
    }
    return HttpError{500, code, kServerError};
}

void send_error(httplib::Response& res, ServingState& state, const Error& error) {
    const HttpError http = http_error_for(error.code);
    if (http.status == 429 && !res.has_header("Retry-After")) res.set_header("Retry-After", "1");
    state.metrics().count_error(std::string(http.type), std::string(http.code));
    send_json(res, http.status, error_json(http.code, error.message, http.type));
}

void send_error(httplib::Response& res, ServingState& state, int status, std::string_view code,
                std::string_view message) {
    const HttpError http = http_error_for(code);
    state.metrics().count_error(std::string(http.type), std::string(http.code));
    send_json(res, status, error_json(http.code, message, http.type));
}

std::string client_address(const httplib::Request& req, bool trust_forwarded_for) {
    if (!trust_forwarded_for || !req.has_header("X-Forwarded-For")) return req.remote_addr;
    // Entries before the last one come from the client and could be anything.
    std::string forwarded = req.get_header_value("X-Forwarded-For");
    std::string last =
        forwarded.substr(forwarded.rfind(',') == std::string::npos ? 0 : forwarded.rfind(',') + 1);
    std::erase(last, ' ');
    return last.empty() ? req.remote_addr : last;
}

namespace {

constexpr int kListenBacklog = 512;

// httplib listens with a backlog of 5: clients that connect in a burst (16 streaming clients reconnecting
// after each reply) overflow it, and the kernel drops their handshakes. Linux lets a second listen() on a
// listening socket raise the backlog; the socket is only reachable from a subclass.
class HttpServer : public httplib::Server {
  public:
    bool widen_listen_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

}  // namespace

class Server::Impl {
  public:
    Impl(ModelPaths paths, ServeOptions options) : state(std::move(paths), std::move(options)) {}

    Status start();
    void register_routes();
    void handle_reload(const httplib::Request& req, httplib::Response& res);

    ServingState state;
    HttpServer http;
    std::thread listener;
    int port = -1;
};

namespace {

// Known routes keep their own label; everything else is counted as static or unknown, so a scan of random
// paths cannot grow the metrics without bound.
std::string route_label(const httplib::Request& req) {
    for (const char* route :
         {"/v1/chat/completions", "/v1/models", "/health", "/api/status", "/metrics", "/api/models/reload"})
        if (req.path == route) return route;
    return req.method == "GET" ? "static" : "other";
}

const char* error_code_for_status(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 408:
            return "request_timeout";
        case 413:
            return "request_too_large";
        case 414:
            return "uri_too_long";
        default:
            return "server_error";
    }
}

}  // namespace

void Server::Impl::register_routes() {
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        if (state.engine()) return send_json(res, 200, {{"status", "ok"}});
        const ModelInfo info = state.info();
        const bool loading = info.status == "loading";
        nlohmann::json body =
            error_json(loading ? "model_loading" : "model_not_loaded",
                       loading ? "the model is loading" : "no model is loaded: " + info.error,
                       http_error_for("model_not_loaded").type);
        body["status"] = loading ? "loading" : "error";
        send_json(res, 503, body);
    });
    http.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-store");
        send_json(res, 200, status_json(state.info(), state.button()));
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(state.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        nlohmann::json data = nlohmann::json::array();
        if (state.engine()) {
            const ModelInfo info = state.info();
            data.push_back({{"id", state.model_name()},
                            {"object", "model"},
                            {"created", 0},
                            {"owned_by", "mimir"},
                            {"tier", info.model_type},
                            {"architecture", info.architecture},
                            {"quantization", info.quantization}});
        }
        send_json(res, 200, {{"object", "list"}, {"data", data}});
    });
    http.Post("/api/models/reload",
              [this](const httplib::Request& req, httplib::Response& res) { handle_reload(req, res); });
    register_chat_routes(http, state);
    http.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
        Result<StaticAsset> asset = find_static_asset(req.path);
        if (!asset) return send_error(res, state, asset.error());
        res.set_header("Cache-Control", asset->cache_control);
        res.set_content(asset->body.data(), asset->body.size(), asset->content_type);
    });
}

void Server::Impl::handle_reload(const httplib::Request& req, httplib::Response& res) {
    const std::string& key = state.options().api_key;
    if (key.empty())
        return send_error(res, state, 403, "reload_disabled",
                          "reloading is disabled: start the server with --api-key or MIMIR_API_KEY");
    std::string provided = req.has_header("X-API-Key") ? req.get_header_value("X-API-Key")
                                                       : bearer_token(req.get_header_value("Authorization"));
    if (!constant_time_equals(key, provided)) {
        res.set_header("WWW-Authenticate", "Bearer");
        return send_error(res, state, 401, "invalid_api_key",
                          provided.empty() ? "an API key is required (Authorization: Bearer <key>)"
                                           : "the API key is not valid");
    }
    spdlog::info("event=reload_requested client={}",
                 client_address(req, state.options().trust_forwarded_for));
    ReloadResult reload = state.reload();
    if (reload.kept_previous) {
        return send_error(res, state, 422, "reload_failed",
                          "no tier loaded (" + reload.info.error + "); the previous model keeps serving");
    }
    send_json(res, 200, status_json(reload.info, state.button()));
}

Status Server::Impl::start() {
    // Debian's cpp-httplib is built without MSG_NOSIGNAL: a client closing its socket mid-stream would
    // otherwise kill the process with SIGPIPE instead of failing the write.
    std::signal(SIGPIPE, SIG_IGN);
    const ServeOptions& options = state.options();
    // Streams hold a worker each, so the pool covers every admissible chat request plus headroom that keeps
    // /health, /api/status and the page answering under full load.
    const size_t workers = static_cast<size_t>(state.admission_limit()) + 16;
    http.new_task_queue = [workers] {
        return new httplib::ThreadPool(workers);
    };  // httplib owns and deletes it
    http.set_payload_max_length(options.max_body_bytes);
    http.set_read_timeout(options.read_timeout_seconds, 0);
    http.set_write_timeout(10, 0);
    http.set_keep_alive_timeout(5);
    http.set_default_headers({{"Content-Security-Policy", kContentSecurityPolicy},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Referrer-Policy", "no-referrer"}});
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res,
                                      std::exception_ptr ep) {
        std::string what = "unknown";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        spdlog::error("event=handler_exception method={} path={} what=\"{}\"", req.method, req.path, what);
        send_error(res, state, 500, "internal_error", "the server failed to handle this request");
    });
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
            // Responses our handlers wrote already have a JSON body; this covers httplib's own refusals
            // (413 body too large, 404 no route, 400 unparsable request).
            if (!res.body.empty() || res.status < 400) return httplib::Server::HandlerResponse::Unhandled;
            const char* code = error_code_for_status(res.status);
            std::string message =
                res.status == 413
                    ? "request body exceeds " + std::to_string(state.options().max_body_bytes) + " bytes"
                : res.status == 400 ? "the request could not be read: malformed, or not complete within " +
                                          std::to_string(state.options().read_timeout_seconds) + " s"
                                    : std::string("request refused: ") + code;
            send_error(res, state, res.status, code, message);
            return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
        state.metrics().count_request(route_label(req), res.status);
        spdlog::debug("event=http method={} path={} status={} client={}", req.method, req.path, res.status,
                      req.remote_addr);
    });
    register_routes();

    port = options.port == 0 ? http.bind_to_any_port(options.host)
                             : (http.bind_to_port(options.host, options.port) ? options.port : -1);
    if (port >= 0 && !http.widen_listen_backlog(kListenBacklog))
        spdlog::warn("event=listen_backlog_unchanged backlog={} errno={}", kListenBacklog, errno);
    if (port < 0)
        return Error{"bind_failed", "cannot listen on " + options.host + ":" + std::to_string(options.port) +
                                        " (address in use or not available)"};
    listener = std::thread([this] { http.listen_after_bind(); });
    // stop() only takes effect on a running server: make sure it runs before anyone can call it.
    while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    spdlog::info("event=listening host={} port={}", options.host, port);
    return ok_status();
}

Server::Server(ModelPaths paths, ServeOptions options)
    : impl_(std::make_unique<Impl>(std::move(paths), std::move(options))) {}

Server::~Server() {
    stop();
    wait();
}

Status Server::start() {
    return impl_->start();
}
int Server::port() const {
    return impl_->port;
}
ModelInfo Server::reload_models() {
    return impl_->state.reload().info;
}
void Server::stop() {
    impl_->http.stop();
}

void Server::wait() {
    if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace mimir::serve
