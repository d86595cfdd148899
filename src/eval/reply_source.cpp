#include "eval/reply_source.h"

#include <httplib.h>
#include <re2/re2.h>

#include <nlohmann/json.hpp>

namespace mimir::eval {

ReplySource::~ReplySource() = default;

OpenAiReplySource::OpenAiReplySource(OpenAiSourceOptions options, std::string origin, std::string path)
    : options_(std::move(options)), origin_(std::move(origin)), path_(std::move(path)) {}

Result<std::unique_ptr<OpenAiReplySource>> OpenAiReplySource::create(OpenAiSourceOptions options) {
    static const RE2 url_parts(R"((https?://[^/\s]+)(/\S*)?)");
    std::string origin, path;
    if (!RE2::FullMatch(options.url, url_parts, &origin, &path)) {
        return Error{"invalid_url", "--url " + options.url + " is not http://host:port"};
    }
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (!path.ends_with("/v1")) path += "/v1";
    path += "/chat/completions";
    if (options.name.empty()) options.name = options.url;
    return std::unique_ptr<OpenAiReplySource>(new OpenAiReplySource(std::move(options), origin, path));
}

std::string OpenAiReplySource::name() const {
    return options_.name;
}

Result<std::string> OpenAiReplySource::reply(const std::vector<ChatMessage>& conversation,
                                             const SamplingParams& sampling) {
    using nlohmann::json;
    json messages = json::array();
    for (const ChatMessage& message : conversation)
        messages.push_back({{"role", message.role}, {"content", message.content}});
    json request = {{"messages", messages},
                    {"stream", false},
                    {"temperature", sampling.temperature},
                    {"top_p", sampling.top_p},
                    {"max_tokens", sampling.max_tokens},
                    {"seed", sampling.seed}};
    if (!options_.model.empty()) request["model"] = options_.model;

    httplib::Client client(origin_);
    client.set_connection_timeout(options_.connect_timeout_s, 0);
    client.set_read_timeout(options_.read_timeout_s, 0);
    client.set_write_timeout(options_.connect_timeout_s, 0);
    const std::string where = origin_ + path_;
    auto response = client.Post(path_, request.dump(), "application/json");
    if (!response) {
        return Error{"unreachable", where + ": no answer (" + httplib::to_string(response.error()) + ")"};
    }
    json body = json::parse(response->body, nullptr, false);
    if (response->status != 200) {
        std::string message = response->body.substr(0, 200);
        if (!body.is_discarded() && body.contains("error") && body["error"].is_object() &&
            body["error"].contains("message")) {
            message = body["error"]["message"].dump();
        }
        return Error{"http_error", where + ": HTTP " + std::to_string(response->status) + ": " + message};
    }
    if (body.is_discarded() || !body.contains("choices") || !body["choices"].is_array() ||
        body["choices"].empty() || !body["choices"][0].contains("message") ||
        !body["choices"][0]["message"].contains("content") ||
        !body["choices"][0]["message"]["content"].is_string()) {
        return Error{"invalid_response",
                     where + ": not an OpenAI chat completion: " + response->body.substr(0, 200)};
    }
    return body["choices"][0]["message"]["content"].get<std::string>();
}

}  // namespace mimir::eval
