// Shared by the training tests: the tiny models they train (2 layers, 64 wide: fast on 2 cores) and
// llama.cpp-side reference computations to compare the training graph against.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model/llama_handles.h"
#include "support/result.h"
#include "support/test_models.h"

namespace mimir::test {

// 2 layers, n_embd 64, 4 heads, n_ff 128, context 512, of the given architecture and storage type.
TinyModelSpec small_training_spec(const std::string& arch = "phi3", const std::string& type = "f32");

// Logits of every position, row-major [n_tokens][n_vocab], from llama.cpp's own inference on `model_path`
// (with the adapter at `adapter_path` applied at scale 1 when not empty).
std::vector<float> llama_logits(const std::string& model_path, const std::vector<int32_t>& tokens,
                                const std::string& adapter_path = "");

// Greedy continuation of `prompt` by llama.cpp, at most `max_tokens`, stopping at end of generation.
std::vector<int32_t> llama_greedy(const std::string& model_path, const std::vector<int32_t>& prompt,
                                  int max_tokens, const std::string& adapter_path = "");

// The value of `result`; its error as an exception otherwise (GoogleTest reports it as the test's failure).
template <typename T>
T value_of(Result<T> result) {
    if (!result) throw std::runtime_error(result.error().code + ": " + result.error().message);
    return std::move(result).value();
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);

// Runs `command` through the shell; returns its exit status and fills `output` with stdout+stderr.
int run_command(const std::string& command, std::string& output);

}  // namespace mimir::test
