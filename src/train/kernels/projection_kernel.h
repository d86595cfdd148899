// The interface every kernel path implements (one translation unit each, built with its own target
// flags; see ../projection_kernels.h). Plain C-style types only: a std template instantiated in a file
// built with AVX-512 flags could be the copy the linker keeps for the whole program, so these files use
// none, and everything else in them has internal linkage.
#pragma once

#include <cstdint>

namespace mimir::kernels {

// Rows of W dequantized together and columns per tile (a multiple of every ggml block size: 32, 256).
constexpr int64_t kTileRows = 64;
constexpr int64_t kTileColumns = 512;
// Bytes of scratch a kernel may use (packed BF16 tile, converted activations, AMX tail tiles); a thread's
// scratch keeps its contents from one call to the next (see TileProduct::input_unchanged).
constexpr int64_t kScratchBytes = 4 << 20;

// One tile of W, dequantized to F32 (row-major, n_rows x width, stride width), and a range of tokens.
// Token t's input starts at in + t * in_stride and its output at out + t * out_stride.
struct TileProduct {
    const float* tile;
    int64_t n_rows, width;
    const float* in;
    int64_t in_stride;
    int64_t n_tokens;
    float* out;
    int64_t out_stride;
    void* scratch;  // kScratchBytes, 64-byte aligned
    // The same tokens' inputs (in, in_stride, n_tokens, and the sum's length) as this thread's previous
    // call: a kernel that converts the inputs (BF16) may reuse what it kept in the scratch.
    bool input_unchanged;
};

struct ProjectionKernel {
    const char* name;
    // out[t][c] += sum over r of tile[r][c] * in[t][r]  (W^T g: in has n_rows values, out width)
    void (*accumulate_columns)(const TileProduct& p);
    // out[t][r] += sum over c of tile[r][c] * in[t][c]  (W x: in has width values, out n_rows)
    void (*accumulate_rows)(const TileProduct& p);
};

extern const ProjectionKernel kGenericKernel;
#if defined(__x86_64__)
extern const ProjectionKernel kAvx2Kernel;
extern const ProjectionKernel kAvx512Kernel;
extern const ProjectionKernel kAvx512Bf16Kernel;
extern const ProjectionKernel kAmxKernel;
#endif

}  // namespace mimir::kernels
