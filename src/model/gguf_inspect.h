// Reads and validates a GGUF file's header and tensor table *before* llama.cpp loads it, so that a
// missing, truncated, bit-flipped or hostile file becomes a clear Error instead of an abort.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "support/result.h"

namespace mimir {

// What a GGUF file is, as far as Mimir cares. Produced by inspect_gguf().
struct GgufSummary {
    std::string path;
    std::string architecture;  // general.architecture, e.g. "phi3", "llama"
    bool is_adapter = false;   // general.type == "adapter"
    std::string adapter_type;  // adapter.type, e.g. "lora"
    float lora_alpha = 0.0f;   // adapter.lora.alpha when present
    std::string file_type;     // dominant tensor type (most elements): "f32", "f16", "q8_0", "q4_K", ...
    std::string quantization;  // from general.file_type: "F32", "F16", "Q8_0", "Q4_K_M", ...
    uint64_t n_params = 0;     // sum of tensor element counts
    uint64_t file_size = 0;    // bytes on disk
    int64_t n_tensors = 0;
    // Hash (hex) of the token list, token types and special token ids; empty when the file has no
    // vocabulary (adapters). Two models can share a tokenizer exactly when their hashes match.
    std::string vocab_hash;
    int64_t n_vocab = 0;
    // Hyperparameters of models (0 for adapters).
    int64_t n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx_train = 0;
};

// Validates `path`: exists and is a regular file, GGUF magic and version, every tensor's data range
// inside the file, known tensor types, sane dimensions and counts, a tokenizer llama.cpp can load (array
// types and lengths, special token ids in range). The header and tensor table are walked here, with every
// length checked against the file size, before gguf_init_from_file reads them. Error codes: "not_found",
// "not_a_file", "not_gguf", "truncated" (ends early; also a zero-length file), "corrupt" (a field no valid
// file has).
Result<GgufSummary> inspect_gguf(const std::string& path);

// Human-readable "3.82 B" / "9.3 M" parameter counts and "2.40 GB" sizes, shared by every printer.
std::string format_count(uint64_t n);
std::string format_bytes(uint64_t n);

}  // namespace mimir
