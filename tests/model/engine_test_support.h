// What the engine tests share: an engine on the tiny test model, greedy requests, and a generation that
// must succeed.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "loaded_tiny_model.h"
#include "model/engine.h"

namespace mimir::test {

inline std::unique_ptr<Engine> make_engine(int n_parallel = 4, int n_ctx = 2048, EngineOptions options = {}) {
    options.n_ctx = n_ctx;
    options.n_parallel = n_parallel;
    options.n_threads = 1;  // tests share 2 cores with other tests: spinning thread pairs would stall
    Result<std::unique_ptr<Engine>> engine = Engine::create(loaded_tiny_model(), options);
    EXPECT_TRUE(engine.ok()) << engine.error().message;
    return engine.ok() ? std::move(*engine) : nullptr;
}

inline GenerationRequest greedy(std::vector<ChatMessage> messages, int max_tokens = 24) {
    GenerationRequest request;
    request.messages = std::move(messages);
    request.sampling.temperature = 0;
    request.sampling.max_tokens = max_tokens;
    return request;
}

inline GenerationResult generate_ok(Engine& engine, GenerationRequest request) {
    Result<GenerationResult> result = engine.generate(std::move(request));
    EXPECT_TRUE(result.ok()) << result.error().code << ": " << result.error().message;
    return result.ok() ? *result : GenerationResult{};
}

}  // namespace mimir::test
