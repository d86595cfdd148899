// The amx path: the same BF16 pairs as avx512bf16 (bf16_pack.inc), multiplied on AMX tiles. Blocks of 32
// tokens x 32 outputs stay in four F32 accumulator tiles while the sum runs in steps of 32 terms (16
// pairs): tmm0-3 accumulate, tmm4-5 hold two 16-token rows of inputs, tmm6-7 two 16-output columns of W.
// Runs only where CPUID reports AMX-TILE and AMX-BF16 and Linux granted XTILEDATA (projection_kernels.cpp).
#if defined(__x86_64__)
#include "train/kernels/bf16_pack.inc"

namespace mimir::kernels {
namespace {

constexpr int64_t kBlock = 32;  // tokens and outputs per block of four tiles

struct alignas(64) TileConfig {
    uint8_t palette_id = 1;
    uint8_t start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t bytes_per_row[16] = {};
    uint8_t rows[16] = {};
};

// GCC's _tile_loadconfig and _tile_storeconfig (amxtileintrin.h, GCC 11 and 12) declare an 8-byte memory
// operand, so the optimiser may drop or move the stores that fill the other 56 bytes of a configuration
// (it does in llama.cpp's mmq.cpp at -O3: ldtilecfg then loads zeros or stack garbage and faults, see the
// README). A compiler barrier naming the configuration keeps all 64 bytes written where the asm reads them.
void memory_barrier(const void* config) {
    asm volatile("" : : "r"(config) : "memory");
}

// The tile configuration is per thread and other code on the same threads may keep one loaded across
// calls (llama.cpp's AMX matmul configures each thread once): each call puts back the one it found.
class TileConfiguration {
  public:
    TileConfiguration() {
        _tile_storeconfig(&previous_);
        memory_barrier(&previous_);
        TileConfig ours;
        for (int i = 0; i < 8; ++i) {
            ours.bytes_per_row[i] = 64;
            ours.rows[i] = 16;
        }
        memory_barrier(&ours);
        _tile_loadconfig(&ours);
    }
    ~TileConfiguration() {
        if (previous_.palette_id == 0) {
            _tile_release();
        } else {
            memory_barrier(&previous_);
            _tile_loadconfig(&previous_);
        }
    }
    TileConfiguration(const TileConfiguration&) = delete;
    TileConfiguration& operator=(const TileConfiguration&) = delete;

  private:
    TileConfig previous_;
};

// C[32 tokens][32 outputs] += tokens . W over every pair, C at `c` with `c_stride` floats per token.
void multiply_block(const PackedTile& w, const uint32_t* tokens, int64_t j, float* c, int64_t c_stride) {
    const int64_t c_bytes = c_stride * static_cast<int64_t>(sizeof(float));
    const int64_t token_bytes = w.n_pairs_padded * static_cast<int64_t>(sizeof(uint32_t));
    const int64_t w_bytes = w.stride * static_cast<int64_t>(sizeof(uint32_t));
    _tile_loadd(0, c, c_bytes);
    _tile_loadd(1, c + 16, c_bytes);
    _tile_loadd(2, c + 16 * c_stride, c_bytes);
    _tile_loadd(3, c + 16 * c_stride + 16, c_bytes);
    for (int64_t k = 0; k < w.n_pairs_padded; k += 16) {
        _tile_loadd(4, tokens + k, token_bytes);
        _tile_loadd(5, tokens + 16 * w.n_pairs_padded + k, token_bytes);
        _tile_loadd(6, w.pairs + k * w.stride + j, w_bytes);
        _tile_loadd(7, w.pairs + k * w.stride + j + 16, w_bytes);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, c_bytes);
    _tile_stored(1, c + 16, c_bytes);
    _tile_stored(2, c + 16 * c_stride, c_bytes);
    _tile_stored(3, c + 16 * c_stride + 16, c_bytes);
}

void multiply(const PackedTile& w, int64_t n_sum, const TileProduct& p) {
    // 32 x 32 floats between the packed tile (at most 256 KiB) and the tokens' cache.
    auto* edge = static_cast<float*>(p.scratch) + (256 << 10) / sizeof(float);
    TokenPairs pairs(p, n_sum, w, kBlock);
    const TileConfiguration tiles;
    for (int64_t t = 0; t < p.n_tokens; t += kBlock) {
        const int64_t n = p.n_tokens - t < kBlock ? p.n_tokens - t : kBlock;
        const uint32_t* tokens = pairs.block(t, n);
        for (int64_t j = 0; j < w.n_outputs; j += kBlock) {
            const int64_t m = w.n_outputs - j < kBlock ? w.n_outputs - j : kBlock;
            float* out = p.out + t * p.out_stride + j;
            if (n == kBlock && m == kBlock) {
                multiply_block(w, tokens, j, out, p.out_stride);
                continue;
            }
            // A partial block goes through a 32 x 32 copy, so no tile touches outputs of other columns.
            std::memset(edge, 0, kBlock * kBlock * sizeof(float));
            for (int64_t i = 0; i < n; ++i)
                std::memcpy(edge + i * kBlock, out + i * p.out_stride, m * sizeof(float));
            multiply_block(w, tokens, j, edge, kBlock);
            for (int64_t i = 0; i < n; ++i)
                std::memcpy(out + i * p.out_stride, edge + i * kBlock, m * sizeof(float));
        }
    }
}

void accumulate_columns(const TileProduct& p) {
    multiply(pack_columns(p), p.n_rows, p);
}

void accumulate_rows(const TileProduct& p) {
    multiply(pack_rows(p), p.width, p);
}

}  // namespace

extern const ProjectionKernel kAmxKernel = {"amx", accumulate_columns, accumulate_rows};

}  // namespace mimir::kernels
#endif
