#include "eval/model_reply_source.h"

#include "agent/tutor_prompt.h"

namespace mimir::eval {

namespace {

// Why the chain did not load the wanted tier: that tier's own attempt, or the chain's summary.
std::string reason_tier_failed(const ModelInfo& info, Tier wanted) {
    for (const TierAttempt& attempt : info.attempts) {
        if (attempt.tier == wanted && !attempt.ok) return attempt.error.code + ": " + attempt.error.message;
    }
    return info.error.empty() ? "the chain loaded the " + info.model_type() + " tier instead" : info.error;
}

}  // namespace

ModelPaths paths_for_tier(Tier tier, const ModelPaths& files) {
    switch (tier) {
        case Tier::FineTuned:
            return {.fine_tuned = files.fine_tuned, .base = files.base};  // the base checks the vocabulary
        case Tier::Adapter:
            return {.adapter = files.adapter, .base = files.base};
        case Tier::Base:
            break;
    }
    return {.base = files.base};
}

Result<std::unique_ptr<ModelReplySource>> ModelReplySource::open(const LocalTierOptions& options) {
    ModelSession session(options.paths, options.session);
    OpenedModel opened = session.open();
    if (!opened.engine || opened.info.tier != options.tier) {
        return Error{"tier_not_loaded", std::string(tier_name(options.tier)) + " tier did not load: " +
                                            reason_tier_failed(opened.info, options.tier)};
    }
    return std::make_unique<ModelReplySource>(options.tier, options.session.system_prompt, std::move(opened));
}

ModelReplySource::ModelReplySource(Tier tier, std::string system_prompt, OpenedModel opened)
    : tier_(tier), system_prompt_(std::move(system_prompt)), opened_(std::move(opened)) {}

std::string ModelReplySource::name() const {
    return tier_name(tier_);
}

Result<std::string> ModelReplySource::reply(const std::vector<ChatMessage>& conversation,
                                            const SamplingParams& sampling) {
    GenerationRequest request{.messages = with_tutor_system_prompt(conversation, system_prompt_),
                              .sampling = sampling};
    Result<GenerationResult> result = opened_.engine->generate(std::move(request));
    if (!result) return Error{result.error().code, result.error().message};
    return std::move(result->text);
}

}  // namespace mimir::eval
