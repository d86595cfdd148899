// The default tiny test model, loaded once per test executable and shared by the engine and chat-prompt
// tests (they need a model without going through ModelManager's fallback chain).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "model/model_manager.h"
#include "support/test_models.h"

namespace mimir::test {

inline std::shared_ptr<const LoadedModel> loaded_tiny_model() {
    static std::shared_ptr<const LoadedModel> shared = [] {
        ensure_llama_backend();
        auto loaded = std::make_shared<LoadedModel>();
        llama_model_params params = llama_model_default_params();
        params.use_extra_bufts = false;
        loaded->model.reset(llama_model_load_from_file(tiny_model_path().c_str(), params));
        return std::shared_ptr<const LoadedModel>(std::move(loaded));
    }();
    EXPECT_TRUE(shared->model) << "the tiny test model did not load";
    return shared;
}

}  // namespace mimir::test
