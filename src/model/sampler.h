// Per-request token sampling built from SamplingParams, and the validation of those parameters.
#pragma once

#include <vector>

#include "llama.h"
#include "model/engine.h"
#include "model/llama_handles.h"
#include "support/result.h"

namespace mimir {

// Checks SamplingParams against SamplingLimits. Error code "invalid_request" naming the field.
Status validate_sampling(const SamplingParams& params);

// The log-softmax of one output row of logits: log-probabilities under the model's own distribution, as
// OpenAI's logprobs report them. Built only for requests that ask for logprobs (a pass over the vocabulary).
class LogSoftmax {
  public:
    LogSoftmax(const float* logits, int32_t n_vocab);
    float at(llama_token token) const { return logits_[token] - log_normalizer_; }
    // The `n` likeliest tokens, most likely first (the smaller id first on ties).
    std::vector<llama_token> likeliest(int n) const;

  private:
    const float* logits_;
    int32_t n_vocab_;
    float log_normalizer_;
};

// Index of the largest of `n` (> 0) logits, the first one on ties, as std::max_element gives it, but in a
// few microseconds for a 32064-token vocabulary instead of ~30 (a few percent of a small model's decode
// step). NaNs are never chosen unless every value is NaN (then 0).
int32_t arg_max(const float* logits, int32_t n);

// One request's sampler: each request owns its own, so requests decoded in the same batch never share
// state (penalty history, random generator). Chain: top-k -> repeat penalty -> greedy when temperature is
// 0, otherwise -> top-p -> temperature -> random draw seeded with `seed`. Plain greedy (no penalty) skips
// the chain and takes the arg-max of the logits directly: the same token, without building a candidate
// array the size of the vocabulary for every token.
class RequestSampler {
  public:
    RequestSampler(const SamplingParams& params, const llama_vocab* vocab);

    // The next token from output row `output_index` of the last decoded batch.
    llama_token sample(llama_context* ctx, int32_t output_index);

  private:
    SamplerHandle chain_;              // null for plain greedy
    std::vector<llama_token> banned_;  // end-of-generation tokens when ignore_end_of_turn (plain greedy)
    int32_t n_vocab_;
};

}  // namespace mimir
