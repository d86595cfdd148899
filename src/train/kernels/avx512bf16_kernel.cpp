// The avx512bf16 path: each weight tile is rounded to BF16 once, in pairs (bf16_pack.inc), and multiplied
// with vdpbf16ps into F32 accumulators: 32 multiply-adds per instruction where the F32 path does 16.
#if defined(__x86_64__)
#include "train/kernels/bf16_pack.inc"

namespace mimir::kernels {
namespace {

constexpr int kTokensPerBlock = 6;   // tokens sharing each W vector loaded
constexpr int kVectorsPerBlock = 4;  // 64 outputs per token in registers

__m512 dot(__m512 acc, __m512i w, __m512i s) {
    __m512bh a, b;
    std::memcpy(&a, &w, sizeof a);
    std::memcpy(&b, &s, sizeof b);
    return _mm512_dpbf16_ps(acc, a, b);
}

// out[t][j] += sum over pairs of tile(pair, j) . tokens[t](pair) for NT tokens, 64 outputs at a time in
// registers, then 16 at a time (masked at the end).
template <int NT>
void multiply_block(const PackedTile& w, const uint32_t* tokens, float* const* out) {
    int64_t j = 0;
    for (; j + 16 * kVectorsPerBlock <= w.n_outputs; j += 16 * kVectorsPerBlock) {
        __m512 acc[NT][kVectorsPerBlock];
        for (int t = 0; t < NT; ++t) {
            for (int v = 0; v < kVectorsPerBlock; ++v) acc[t][v] = _mm512_loadu_ps(out[t] + j + 16 * v);
        }
        for (int64_t pair = 0; pair < w.n_pairs; ++pair) {
            const uint32_t* row = w.pairs + pair * w.stride + j;
            __m512i wv[kVectorsPerBlock];
            for (int v = 0; v < kVectorsPerBlock; ++v) wv[v] = _mm512_loadu_si512(row + 16 * v);
            for (int t = 0; t < NT; ++t) {
                const __m512i s = _mm512_set1_epi32(static_cast<int>(tokens[t * w.n_pairs_padded + pair]));
                for (int v = 0; v < kVectorsPerBlock; ++v) acc[t][v] = dot(acc[t][v], wv[v], s);
            }
        }
        for (int t = 0; t < NT; ++t) {
            for (int v = 0; v < kVectorsPerBlock; ++v) _mm512_storeu_ps(out[t] + j + 16 * v, acc[t][v]);
        }
    }
    for (; j < w.n_outputs; j += 16) {
        const __mmask16 mask = tail_mask(w.n_outputs - j);
        __m512 acc[NT];
        for (int t = 0; t < NT; ++t) acc[t] = _mm512_maskz_loadu_ps(mask, out[t] + j);
        for (int64_t pair = 0; pair < w.n_pairs; ++pair) {
            const __m512i wv = _mm512_loadu_si512(w.pairs + pair * w.stride + j);  // stride is padded
            for (int t = 0; t < NT; ++t) {
                acc[t] =
                    dot(acc[t], wv, _mm512_set1_epi32(static_cast<int>(tokens[t * w.n_pairs_padded + pair])));
            }
        }
        for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(out[t] + j, mask, acc[t]);
    }
}

void multiply(const PackedTile& w, int64_t n_sum, const TileProduct& p) {
    TokenPairs pairs(p, n_sum, w, kTokensPerBlock);
    for (int64_t t = 0; t < p.n_tokens; t += kTokensPerBlock) {
        const int64_t left = p.n_tokens - t;
        const int n = static_cast<int>(left < kTokensPerBlock ? left : kTokensPerBlock);
        const uint32_t* tokens = pairs.block(t, n);
        float* out[kTokensPerBlock];
        for (int i = 0; i < n; ++i) out[i] = p.out + (t + i) * p.out_stride;
        switch (n) {
            case 6:
                multiply_block<6>(w, tokens, out);
                break;
            case 5:
                multiply_block<5>(w, tokens, out);
                break;
            case 4:
                multiply_block<4>(w, tokens, out);
                break;
            case 3:
                multiply_block<3>(w, tokens, out);
                break;
            case 2:
                multiply_block<2>(w, tokens, out);
                break;
            default:
                multiply_block<1>(w, tokens, out);
                break;
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

extern const ProjectionKernel kAvx512Bf16Kernel = {"avx512bf16", accumulate_columns, accumulate_rows};

}  // namespace mimir::kernels
#endif
