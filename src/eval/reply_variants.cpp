#include "eval/reply_variants.h"

#include <nlohmann/json.hpp>

namespace mimir::eval {
namespace {

std::string request_key(const std::vector<ChatMessage>& conversation, const SamplingParams& sampling) {
    nlohmann::json key = nlohmann::json::array();
    for (const ChatMessage& message : conversation) key.push_back({message.role, message.content});
    key.push_back({sampling.temperature, sampling.top_p, sampling.top_k, sampling.repeat_penalty,
                   sampling.seed, sampling.max_tokens});
    return key.dump();
}

}  // namespace

Result<std::string> SharedReplies::reply(const std::vector<ChatMessage>& conversation,
                                         const SamplingParams& sampling) {
    const std::string key = request_key(conversation, sampling);
    if (auto found = replies_.find(key); found != replies_.end()) return found->second;
    Result<std::string> reply = source_.reply(conversation, sampling);
    // Only the latest requests can come again (variants ask case by case), so the map stays small.
    if (replies_.size() >= 64) replies_.clear();
    replies_.emplace(key, reply);
    return reply;
}

VariantReplySource::VariantReplySource(std::shared_ptr<SharedReplies> replies, ReplyVariant variant)
    : replies_(std::move(replies)), variant_(std::move(variant)) {}

std::string VariantReplySource::name() const {
    const std::string tier = replies_->source().name();
    return variant_.label.empty() ? tier : tier + " " + variant_.label;
}

Result<std::string> VariantReplySource::reply(const std::vector<ChatMessage>& conversation,
                                              const SamplingParams& sampling) {
    Result<std::string> reply = variant_.prepare ? replies_->reply(variant_.prepare(conversation), sampling)
                                                 : replies_->reply(conversation, sampling);
    if (!reply || !variant_.rewrite) return reply;
    return variant_.rewrite(*reply);
}

}  // namespace mimir::eval
