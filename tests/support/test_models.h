// Test fixtures shared by every test folder: tiny models generated once per build directory and reused,
// and the paths of llama.cpp's own tools for tests that compare against them.
#pragma once

#include <string>

#include "model/tiny_model.h"

namespace mimir::test {

// Path of a generated tiny model for `spec` (vocab filled in), written on first use under
// <build>/test-models/ and reused afterwards. Fails the calling test (ASSERT) when it cannot be written.
std::string tiny_model_path(const TinyModelSpec& spec = {});

// A fresh empty directory under <build>/test-tmp/<test name>/ for files a test writes.
std::string scratch_dir();

// llama.cpp's tool `name` (e.g. "llama-completion") from the pinned build; empty when not built.
std::string llama_tool(const std::string& name);

}  // namespace mimir::test
