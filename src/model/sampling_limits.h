// The accepted range of every per-request sampling setting, in one place: the engine validates
// SamplingParams against it, the HTTP API checks request fields against it, and the CLI's flags use it.
// Where OpenAI's chat-completions API defines a range, it is OpenAI's.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mimir {

struct SamplingLimits {
    static constexpr float kMinTemperature = 0.0f;  // 0 = greedy
    static constexpr float kMaxTemperature = 2.0f;
    // top_p is in (kMinTopPExclusive, kMaxTopP]
    static constexpr float kMinTopPExclusive = 0.0f;
    static constexpr float kMaxTopP = 1.0f;
    static constexpr int kMinTopK = 0;  // 0 = off
    static constexpr int kMaxTopK = 1000;
    static constexpr float kMinRepeatPenalty = 0.5f;  // 1 = off
    static constexpr float kMaxRepeatPenalty = 2.0f;
    static constexpr int kMinRepeatLastN = 0;
    static constexpr int kMaxRepeatLastN = 4096;
    static constexpr int kMinMaxTokens = 1;  // the upper bound is the context size
    static constexpr size_t kMaxStopStrings = 4;
    static constexpr size_t kMaxStopBytes = 256;  // per stop string
    static constexpr int kMinTopLogprobs = 0;
    static constexpr int kMaxTopLogprobs = 20;
    static constexpr uint32_t kMaxSeed = 0xFFFFFFFF;  // also "random" (LLAMA_DEFAULT_SEED)
};

}  // namespace mimir
