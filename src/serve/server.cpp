#include "serve/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <regex>
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
constexpr std::array<std::pair<std::string_view, HttpError>, 39> kErrorMap = {{
    {"invalid_request", {400, "invalid_request", kInvalidRequest}},
    {"invalid_feedback", {400, "invalid_feedback", kInvalidRequest}},
    {"context_exceeded", {400, "context_length_exceeded", kInvalidRequest}},
    {"invalid_path", {400, "invalid_path", kInvalidRequest}},
    {"bad_request", {400, "bad_request", kInvalidRequest}},
    {"invalid_api_key", {401, "invalid_api_key", "authentication_error"}},
    {"reload_disabled", {403, "reload_disabled", "permission_error"}},
    {"review_disabled", {403, "review_disabled", "permission_error"}},
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
    // Whatever went wrong in the feedback store, the client can only retry later.
    {"store_unavailable", {503, "store_unavailable", kUnavailable}},
    {"write_failed", {503, "store_unavailable", kUnavailable}},
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
    {"checksum_mismatch", {503, "model_not_loaded", kUnavailable}},
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

bool check_api_key(const httplib::Request& req, httplib::Response& res, ServingState& state,
                   const Error& disabled) {
    const std::string& key = state.options().api_key;
    if (key.empty()) {
        send_error(res, state, disabled);
        return false;
    }
    std::string provided = req.has_header("X-API-Key") ? req.get_header_value("X-API-Key")
                                                       : bearer_token(req.get_header_value("Authorization"));
    if (constant_time_equals(key, provided)) return true;
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(
        res, state,
        Error{"invalid_api_key", provided.empty() ? "an API key is required (Authorization: Bearer <key>)"
                                                  : "the API key is not valid"});
    return false;
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

    ServingState state;
    HttpServer http;
    std::thread listener;
    int port = -1;
};

namespace {

void handle_health(const httplib::Request&, httplib::Response& res, ServingState& state) {
    if (state.engine()) return send_json(res, 200, {{"status", "ok"}});
    const ModelInfo info = state.info();
    const bool loading = info.status == ModelStatus::Loading;
    nlohmann::json body = error_json(loading ? "model_loading" : "model_not_loaded",
                                     loading ? "the model is loading" : "no model is loaded: " + info.error,
                                     http_error_for("model_not_loaded").type);
    body["status"] = loading ? "loading" : "error";
    send_json(res, 503, body);
}

void handle_status(const httplib::Request&, httplib::Response& res, ServingState& state) {
    res.set_header("Cache-Control", "no-store");
    send_json(res, 200, state.status());
}

void handle_metrics(const httplib::Request&, httplib::Response& res, ServingState& state) {
    res.set_content(state.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
}

void handle_models(const httplib::Request&, httplib::Response& res, ServingState& state) {
    nlohmann::json data = nlohmann::json::array();
    if (state.engine()) {
        const ModelInfo info = state.info();
        data.push_back({{"id", state.model_name()},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", "mimir"},
                        {"tier", info.model_type()},
                        {"architecture", info.architecture},
                        {"quantization", info.quantization}});
    }
    send_json(res, 200, {{"object", "list"}, {"data", data}});
}

void handle_reload(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    if (!check_api_key(req, res, state,
                       Error{"reload_disabled",
                             "reloading is disabled: start the server with --api-key or MIMIR_API_KEY"}))
        return;
    spdlog::info("event=reload_requested client={}",
                 client_address(req, state.options().trust_forwarded_for));
    ReloadResult reload = state.reload();
    if (reload.kept_previous) {
        return send_error(res, state,
                          Error{"reload_failed", "no tier loaded (" + reload.info.error +
                                                     "); the previous model keeps serving"});
    }
    send_json(res, 200, state.status());
}

void handle_static(const httplib::Request& req, httplib::Response& res, ServingState& state) {
    Result<StaticAsset> asset = find_static_asset(req.path);
    if (!asset) return send_error(res, state, asset.error());
    res.set_header("Cache-Control", asset->cache_control);
    res.set_content(asset->body.data(), asset->body.size(), asset->content_type);
}

using Handler = void (*)(const httplib::Request&, httplib::Response&, ServingState&);

struct Route {
    enum class Method { Get, Post } method;
    const char* path;  // a regular expression for httplib; all but the page's catch-all match one path
    Handler handler;
    const char* metrics_label;
};

// Every route the server answers, in the order httplib tries them. The metrics label requests by this
// table, so a scan of random paths cannot grow the metrics without bound.
constexpr Route kRoutes[] = {
    {Route::Method::Get, "/health", handle_health, "/health"},
    {Route::Method::Get, "/api/status", handle_status, "/api/status"},
    {Route::Method::Get, "/metrics", handle_metrics, "/metrics"},
    {Route::Method::Get, "/v1/models", handle_models, "/v1/models"},
    {Route::Method::Post, "/api/models/reload", handle_reload, "/api/models/reload"},
    {Route::Method::Post, "/v1/chat/completions", handle_chat_completion, "/v1/chat/completions"},
    {Route::Method::Get, "/api/feedback/categories", handle_feedback_categories, "/api/feedback/categories"},
    {Route::Method::Post, "/api/feedback/check", handle_feedback_check, "/api/feedback/check"},
    {Route::Method::Post, "/api/feedback", handle_feedback_submit, "/api/feedback"},
    {Route::Method::Get, "/api/feedback", handle_feedback_list, "/api/feedback"},
    {Route::Method::Get, R"(/api/feedback/(\d+))", handle_feedback_get, "/api/feedback/{id}"},
    {Route::Method::Post, R"(/api/feedback/(\d+)/review)", handle_feedback_review,
     "/api/feedback/{id}/review"},
    {Route::Method::Get, R"(/.*)", handle_static, "static"},
};

std::string route_label(const httplib::Request& req) {
    for (const Route& route : kRoutes) {
        if (req.path == route.path) return route.metrics_label;
    }
    // Routes with an id in the path (the page's catch-all is not one of them).
    static const std::regex feedback_id(R"(/api/feedback/\d+)"),
        feedback_review(R"(/api/feedback/\d+/review)");
    if (std::regex_match(req.path, feedback_id)) return "/api/feedback/{id}";
    if (std::regex_match(req.path, feedback_review)) return "/api/feedback/{id}/review";
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
    for (const Route& route : kRoutes) {
        auto handler = [this, handle = route.handler](const httplib::Request& req, httplib::Response& res) {
            handle(req, res, state);
        };
        if (route.method == Route::Method::Get) {
            http.Get(route.path, handler);
        } else {
            http.Post(route.path, handler);
        }
    }
}

Status Server::Impl::start() {
    const ServeOptions& options = state.options();
    // Serving without the store would lose every submission silently: no store, no start.
    if (Status opened = state.feedback().open(options); !opened) return opened;
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
        send_error(res, state, Error{"internal_error", "the server failed to handle this request"});
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
            send_error(res, state, Error{code, message});
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
void Server::set_activity(std::string activity) {
    impl_->state.set_activity(std::move(activity));
}
void Server::stop() {
    impl_->http.stop();
}

void Server::wait() {
    if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace mimir::serve
