// Local tiers for `mimir eval`: a model opened in this process through ModelSession (the fallback chain,
// an engine, the tutor prompt computed once), so a suite grades the base, base + adapter and fine-tuned
// files exactly as `mimir serve` would load and prompt them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eval/reply_source.h"
#include "model/model_session.h"

namespace mimir::eval {

struct LocalTierOptions {
    Tier tier = Tier::Base;  // the tier this source must be; its name in reports is tier_name(tier)
    ModelPaths paths;        // only what that tier needs (e.g. adapter + base)
    SessionOptions session;  // engine settings and the tutor system prompt
};

// The model paths that select exactly `tier` from the given files (empty strings where not given).
ModelPaths paths_for_tier(Tier tier, const ModelPaths& files);

class ModelReplySource : public ReplySource {
  public:
    // Opens the model. Errors: "tier_not_loaded" when the chain did not load `tier` itself (a fallback to
    // the base does not count as the adapter tier), naming why; engine errors as ModelSession reports them.
    static Result<std::unique_ptr<ModelReplySource>> open(const LocalTierOptions& options);

    // A source over a model already opened as `tier` (open() is the checked way to get one).
    ModelReplySource(Tier tier, std::string system_prompt, OpenedModel opened);

    std::string name() const override;
    // Generates in process with the session's tutor prompt before the conversation. Errors: the engine's.
    Result<std::string> reply(const std::vector<ChatMessage>& conversation,
                              const SamplingParams& sampling) override;

  private:
    Tier tier_;
    std::string system_prompt_;
    OpenedModel opened_;
};

// A tier that could not be opened: every reply fails with the reason, so the run reports that tier as
// failed while the other tiers go on.
class UnavailableReplySource : public ReplySource {
  public:
    UnavailableReplySource(std::string name, Error error)
        : name_(std::move(name)), error_(std::move(error)) {}
    std::string name() const override { return name_; }
    Result<std::string> reply(const std::vector<ChatMessage>&, const SamplingParams&) override {
        return error_;
    }

  private:
    std::string name_;
    Error error_;
};

}  // namespace mimir::eval
