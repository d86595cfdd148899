// Writes GGUF files whose tensors are generated on the fly, a few rows at a time, so that even a
// Phi-3-mini-sized model is written with one tensor's worth of memory at most. Used by the tiny-model and
// random-adapter generators.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf.h"
#include "support/result.h"

namespace mimir {

// One tensor of the file: name, storage type, shape in ggml order (ne[0] = row length) and contents.
struct GeneratedTensor {
    std::string name;
    ggml_type type = GGML_TYPE_F32;
    std::vector<int64_t> shape;
    // Contents: `constant` everywhere when stddev == 0, else deterministic noise with this standard deviation
    // drawn from `seed`.
    float stddev = 0.0f;
    float constant = 1.0f;
    uint64_t seed = 0;
};

// The type to store a tensor of row length `row_length` as, when `wanted` cannot hold such rows
// (K-quants need multiples of 256, the other block types multiples of 32): the nearest type that can.
ggml_type storable_type(ggml_type wanted, int64_t row_length);

// Writes the key/values already set in `kvs` and then `tensors`, in order, to `out_path` with
// write_file_atomically (a failed write leaves no partial file behind). Errors: "invalid_shape",
// "write_failed".
Status write_generated_gguf(gguf_context* kvs, const std::vector<GeneratedTensor>& tensors,
                            const std::string& out_path);

}  // namespace mimir
