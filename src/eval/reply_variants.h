// One tier asked in more than one way in the same run, so the reports put the ways side by side: the
// system prompt chosen per conversation (prompt snippets) instead of the tier's fixed one, and the reply
// passed through the response guard. A variant wraps the tier's source; the raw and the guarded variant of
// one prompt share each generation (the guard only rewrites text), so guarding costs no extra replies.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "eval/reply_source.h"

namespace mimir::eval {

// How a variant changes the request and the reply. Empty functions change nothing.
struct ReplyVariant {
    std::string label;  // appended to the tier's name in reports ("snippets", "guarded"); empty = none
    // The conversation as the tier should see it (e.g. with the chosen system prompt put first).
    std::function<std::vector<ChatMessage>(const std::vector<ChatMessage>&)> prepare;
    // The reply as the student would see it (e.g. guarded).
    std::function<std::string(const std::string&)> rewrite;
};

// Remembers the replies of a source by request (conversation and sampling), so variants that send the same
// request get one generation. Replies are deterministic for a given seed, which is what makes this exact.
class SharedReplies {
  public:
    explicit SharedReplies(ReplySource& source) : source_(source) {}
    ReplySource& source() const { return source_; }
    Result<std::string> reply(const std::vector<ChatMessage>& conversation, const SamplingParams& sampling);

  private:
    ReplySource& source_;
    std::map<std::string, Result<std::string>> replies_;  // by a key of the whole request
};

class VariantReplySource : public ReplySource {
  public:
    VariantReplySource(std::shared_ptr<SharedReplies> replies, ReplyVariant variant);
    std::string name() const override;  // "<tier> <label>", or the tier's name when the label is empty
    Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                              const SamplingParams& sampling) override;

  private:
    std::shared_ptr<SharedReplies> replies_;
    ReplyVariant variant_;
};

}  // namespace mimir::eval
