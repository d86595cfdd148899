// Where a tier's replies come from. The runner asks a ReplySource for each case and sample; the CLI makes
// one per tier: an OpenAI-compatible server (`--url`), and later local models (the base, base + adapter,
// fine-tuned tiers), which the lead plugs in through the same interface.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/engine.h"
#include "support/result.h"

namespace mimir::eval {

class ReplySource {
  public:
    virtual ~ReplySource();
    // The tier's name in reports ("base", "fine-tuned", a URL).
    virtual std::string name() const = 0;
    // One reply to `conversation` (ending on the student's turn). A failure is that tier's error; the runner
    // records it and goes on with the other tiers.
    virtual Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                                      const SamplingParams& sampling) = 0;
};

struct OpenAiSourceOptions {
    std::string url;             // "http://host:port" (a trailing "/v1" is accepted)
    std::string name;            // shown in reports; the URL when empty
    std::string model;           // the request's "model" field; servers serving one model ignore it
    int connect_timeout_s = 10;  // per request
    int read_timeout_s = 300;    // a whole non-streaming reply
};

// POST {url}/v1/chat/completions, non-streaming. Errors: "invalid_url", "unreachable" (no connection or a
// timeout), "http_error" (a status other than 200, with the body's message), "invalid_response" (a body that
// is not an OpenAI chat completion).
class OpenAiReplySource : public ReplySource {
  public:
    static Result<std::unique_ptr<OpenAiReplySource>> create(OpenAiSourceOptions options);
    std::string name() const override;
    Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                              const SamplingParams& sampling) override;

  private:
    OpenAiReplySource(OpenAiSourceOptions options, std::string origin, std::string path);
    OpenAiSourceOptions options_;
    std::string origin_;  // scheme://host:port
    std::string path_;    // .../v1/chat/completions
};

}  // namespace mimir::eval
