// Per-request sampler chains built from SamplingParams, and the validation of those parameters.
#pragma once

#include "llama.h"
#include "model/engine.h"
#include "model/llama_handles.h"
#include "support/result.h"

namespace mimir {

// Checks the ranges documented on SamplingParams. Error code "invalid_request" naming the field.
Status validate_sampling(const SamplingParams& params);

// top-k -> repeat penalty -> greedy when temperature is 0, otherwise -> top-p ->
// temperature -> random draw seeded with `seed`. Each request owns its chain, so requests decoded in the same
// batch never share sampler state.
SamplerHandle make_sampler_chain(const SamplingParams& params, const llama_vocab* vocab);

}  // namespace mimir
