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

// Writes {"error":{code,message,type}} with the type that belongs to `status`, and counts it.
void send_error(httplib::Response& res, ServingState& state, int status, std::string_view code,
                std::string_view message);

// Maps an engine or parser error code to its HTTP status (invalid_request 400, busy 429, ...).
int status_for_error_code(std::string_view code);
const char* error_type_for_status(int status);

// The unit of rate limiting: the peer address, or behind a trusted reverse proxy (a Hugging Face Space)
// the address that proxy appended last to X-Forwarded-For.
std::string client_address(const httplib::Request& req, bool trust_forwarded_for);

// POST /v1/chat/completions (chat_route.cpp).
void handle_chat_completion(const httplib::Request& req, httplib::Response& res, ServingState& state);

}  // namespace mimir::serve
