#include "model/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "model/utf8_stream.h"

namespace mimir {

namespace {

using Limits = SamplingLimits;

Status invalid(const std::string& field, const std::string& why) {
    return Status::failure("invalid_request", "sampling." + field + ": " + why);
}

std::string range(float low, float high) {
    return fmt::format("[{:g}, {:g}]", low, high);
}

bool outside(float value, float low, float high) {
    return !std::isfinite(value) || value < low || value > high;
}

}  // namespace

Status validate_sampling(const SamplingParams& params) {
    if (outside(params.temperature, Limits::kMinTemperature, Limits::kMaxTemperature)) {
        return invalid("temperature",
                       "must be in " + range(Limits::kMinTemperature, Limits::kMaxTemperature));
    }
    if (outside(params.top_p, Limits::kMinTopPExclusive, Limits::kMaxTopP) ||
        params.top_p <= Limits::kMinTopPExclusive) {
        return invalid("top_p",
                       fmt::format("must be in ({:g}, {:g}]", Limits::kMinTopPExclusive, Limits::kMaxTopP));
    }
    if (params.top_k < Limits::kMinTopK || params.top_k > Limits::kMaxTopK) {
        return invalid("top_k",
                       fmt::format("must be in [{}, {}] (0 = off)", Limits::kMinTopK, Limits::kMaxTopK));
    }
    if (outside(params.repeat_penalty, Limits::kMinRepeatPenalty, Limits::kMaxRepeatPenalty)) {
        return invalid(
            "repeat_penalty",
            "must be in " + range(Limits::kMinRepeatPenalty, Limits::kMaxRepeatPenalty) + " (1 = off)");
    }
    if (params.repeat_last_n < Limits::kMinRepeatLastN || params.repeat_last_n > Limits::kMaxRepeatLastN) {
        return invalid("repeat_last_n",
                       fmt::format("must be in [{}, {}]", Limits::kMinRepeatLastN, Limits::kMaxRepeatLastN));
    }
    if (params.max_tokens < Limits::kMinMaxTokens) return invalid("max_tokens", "must be at least 1");
    if (params.top_logprobs < Limits::kMinTopLogprobs || params.top_logprobs > Limits::kMaxTopLogprobs) {
        return invalid("top_logprobs",
                       fmt::format("must be in [{}, {}]", Limits::kMinTopLogprobs, Limits::kMaxTopLogprobs));
    }
    if (params.top_logprobs > 0 && !params.logprobs) return invalid("top_logprobs", "needs logprobs");
    if (params.stop.size() > Limits::kMaxStopStrings) {
        return invalid("stop", fmt::format("at most {} stop strings", Limits::kMaxStopStrings));
    }
    for (size_t i = 0; i < params.stop.size(); ++i) {
        const std::string& stop = params.stop[i];
        const std::string field = "stop[" + std::to_string(i) + "]";
        if (stop.empty()) return invalid(field, "empty");
        if (stop.size() > Limits::kMaxStopBytes)
            return invalid(field, fmt::format("longer than {} bytes", Limits::kMaxStopBytes));
        if (!is_valid_utf8(stop)) return invalid(field, "not valid UTF-8");
    }
    return ok_status();
}

namespace {

SamplerHandle make_chain(const SamplingParams& params, const llama_vocab* vocab) {
    llama_sampler_chain_params chain_params = llama_sampler_chain_default_params();
    chain_params.no_perf = true;
    SamplerHandle chain(llama_sampler_chain_init(chain_params));
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);
    if (params.ignore_end_of_turn) {
        std::vector<llama_logit_bias> never;
        for (llama_token token = 0; token < n_vocab; ++token) {
            if (llama_vocab_is_eog(vocab, token)) never.push_back({token, -INFINITY});
        }
        llama_sampler_chain_add(chain.get(), llama_sampler_init_logit_bias(
                                                 n_vocab, static_cast<int32_t>(never.size()), never.data()));
    }
    // top-k first: the penalty then looks at k candidates instead of the whole vocabulary.
    if (params.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(params.top_k));
    if (params.repeat_penalty != 1.0f && params.repeat_last_n > 0) {
        llama_sampler_chain_add(chain.get(), llama_sampler_init_penalties(n_vocab, params.repeat_last_n,
                                                                          params.repeat_penalty, 0.0f, 0.0f));
    }
    if (params.temperature <= 0.0f) {
        llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
        return chain;
    }
    if (params.top_p < 1.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(params.top_p, 1));
    llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(params.temperature));
    llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(params.seed));
    return chain;
}

// Max of a block in independent lanes, a loop the compiler turns into SIMD (a running max cannot be).
float block_max(const float* values, int32_t n) {
    constexpr int32_t kLanes = 16;
    float lanes[kLanes];
    std::fill(lanes, lanes + kLanes, -INFINITY);
    int32_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (int32_t l = 0; l < kLanes; ++l) lanes[l] = values[i + l] > lanes[l] ? values[i + l] : lanes[l];
    }
    float best = -INFINITY;
    for (int32_t l = 0; l < kLanes; ++l) best = lanes[l] > best ? lanes[l] : best;
    for (; i < n; ++i) best = values[i] > best ? values[i] : best;
    return best;
}

bool is_plain_greedy(const SamplingParams& params) {
    return params.temperature <= 0.0f && (params.repeat_penalty == 1.0f || params.repeat_last_n == 0);
}

}  // namespace

int32_t arg_max(const float* logits, int32_t n) {
    // The first block holding the maximum, then its first position within that block.
    constexpr int32_t kBlock = 512;
    float best = -INFINITY;
    int32_t best_block = 0;
    for (int32_t start = 0; start < n; start += kBlock) {
        const float block_best = block_max(logits + start, std::min(kBlock, n - start));
        if (block_best > best) {
            best = block_best;
            best_block = start;
        }
    }
    const float* found = std::find(logits + best_block, logits + n, best);
    return found == logits + n ? 0 : static_cast<int32_t>(found - logits);
}

LogSoftmax::LogSoftmax(const float* logits, int32_t n_vocab) : logits_(logits), n_vocab_(n_vocab) {
    const float max = logits[arg_max(logits, n_vocab)];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
    log_normalizer_ = max + static_cast<float>(std::log(sum));
}

std::vector<llama_token> LogSoftmax::likeliest(int n) const {
    std::vector<llama_token> ids(static_cast<size_t>(n_vocab_));
    std::iota(ids.begin(), ids.end(), 0);
    const auto count = static_cast<std::ptrdiff_t>(std::clamp(n, 0, n_vocab_));
    std::partial_sort(ids.begin(), ids.begin() + count, ids.end(), [this](llama_token a, llama_token b) {
        return logits_[a] > logits_[b] || (logits_[a] == logits_[b] && a < b);
    });
    ids.resize(static_cast<size_t>(count));
    return ids;
}

RequestSampler::RequestSampler(const SamplingParams& params, const llama_vocab* vocab)
    : n_vocab_(llama_vocab_n_tokens(vocab)) {
    if (!is_plain_greedy(params)) {
        chain_ = make_chain(params, vocab);
        return;
    }
    if (params.ignore_end_of_turn) {
        for (llama_token token = 0; token < n_vocab_; ++token) {
            if (llama_vocab_is_eog(vocab, token)) banned_.push_back(token);
        }
    }
}

llama_token RequestSampler::sample(llama_context* ctx, int32_t output_index) {
    if (chain_) return llama_sampler_sample(chain_.get(), ctx, output_index);
    const float* logits = llama_get_logits_ith(ctx, output_index);
    const llama_token best = arg_max(logits, n_vocab_);
    if (std::find(banned_.begin(), banned_.end(), best) == banned_.end()) return best;
    // Rare: the arg-max is an end-of-generation token that must not be chosen; search again without them.
    std::vector<float> allowed(logits, logits + n_vocab_);
    for (llama_token token : banned_) allowed[static_cast<size_t>(token)] = -INFINITY;
    return arg_max(allowed.data(), n_vocab_);
}

}  // namespace mimir
