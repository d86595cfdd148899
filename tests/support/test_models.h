// Test fixtures shared by every test folder: tiny models generated once per build directory and reused,
// and the paths of llama.cpp's own tools for tests that compare against them.
#pragma once

#include <string>

#include "model/tiny_model.h"

namespace mimir::test {

// Path of a generated tiny model for `spec` (vocab filled in), written on first use under
// <build>/test-models/ and reused afterwards. Fails the calling test (ASSERT) when it cannot be written.
std::string tiny_model_path(const TinyModelSpec& spec = {});

// A smaller spec than the default (2 layers, ctx 512) for tests that write many models: quick to generate.
// Q4_K needs widths divisible by 256; pass n_embd = 256 where a test wants every tensor in Q4_K.
TinyModelSpec small_spec(const std::string& arch = "phi3", const std::string& type = "f32", int n_embd = 64);

// A fresh empty directory under <build>/test-tmp/<test name>/ for files a test writes.
std::string scratch_dir();

// Writes <dir>/rows.csv: three tutoring rows (greeting, a homework request, thanks) whose bad replies
// carry an emoticon and whose ideal replies pass every standalone check, short enough for a tiny model to
// memorise in seconds. Returns its path.
std::string write_tutoring_rows_csv(const std::string& dir);

// llama.cpp's tool `name` (e.g. "llama-completion") from the pinned build; empty when not built.
std::string llama_tool(const std::string& name);

}  // namespace mimir::test
