// Internal to the serve module: helpers the route files share. httplib types are only forward-declared
// here; the routes that use them live in .cpp files.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "support/result.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace mimir::serve {

class ServingState;

void send_json(httplib::Response& res, int status, const nlohmann::json& body);

// What a client sees for an error code.
struct HttpError {
    int status;
    std::string_view code;  // on the wire: the engine's own code, or its OpenAI-style name
    std::string_view type;  // OpenAI's error type for the status, e.g. "invalid_request_error"
};

// The one map from an error code of the engine, the model manager, the request parser or the server to
// its HTTP status, wire code and type, for whole replies and errors inside a stream alike. docs/api.md's
// error table lists every entry. An unknown code is a 500 "server_error" that keeps its code.
HttpError http_error_for(std::string_view code);

// Writes {"error":{code,message,type}} as http_error_for(error.code) says, and counts it.
void send_error(httplib::Response& res, ServingState& state, const Error& error);

// The admin API key check of /api/models/reload and the review endpoints (Authorization: Bearer KEY, or
// X-API-Key). False, with the error sent, when the server has no key (`disabled`, a 403) or the request's
// key is missing or wrong (401 invalid_api_key).
bool check_api_key(const httplib::Request& req, httplib::Response& res, ServingState& state,
                   const Error& disabled);

// The unit of rate limiting: the peer address, or behind a trusted reverse proxy (a Hugging Face Space)
// the address that proxy appended last to X-Forwarded-For.
std::string client_address(const httplib::Request& req, bool trust_forwarded_for);

// POST /v1/chat/completions (chat_route.cpp).
void handle_chat_completion(const httplib::Request& req, httplib::Response& res, ServingState& state);

// The learning loop's endpoints (feedback_routes.cpp; docs/api.md).
void handle_feedback_categories(const httplib::Request& req, httplib::Response& res, ServingState& state);
void handle_feedback_check(const httplib::Request& req, httplib::Response& res, ServingState& state);
void handle_feedback_submit(const httplib::Request& req, httplib::Response& res, ServingState& state);
void handle_feedback_list(const httplib::Request& req, httplib::Response& res, ServingState& state);
void handle_feedback_get(const httplib::Request& req, httplib::Response& res, ServingState& state);
void handle_feedback_review(const httplib::Request& req, httplib::Response& res, ServingState& state);

}  // namespace mimir::serve
