// The amx kernel (src/train/kernels/amx_kernel.cpp) built a second time against the software AMX of
// amx_emulation.h, so its tile code (configuration, 32 x 32 blocks, partial blocks through the edge copy,
// strides, the token cache) runs and is checked on CPUs without AMX. Its packing is avx512bf16's, so it
// needs AVX-512 BF16 and is skipped without it. Each product must equal the exact product of the
// BF16-rounded operands within the F32 sum's bound gamma(n + 1) * sum |w' x'| (projection_ops_test.cpp
// derives it), small integers exactly, touch no output outside its tokens and columns, and leave the
// thread's tile configuration as they found it. The real
// instructions run in projection_ops_test's amx cases where the CPU has them.
#if defined(__x86_64__)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "ggml.h"
#include "train/amx_emulation.h"
#include "train/kernels/projection_kernel.h"
#include "train/projection_kernels.h"

namespace mimir::kernels {
extern const ProjectionKernel kAmxKernelEmulated;
}

namespace mimir {
namespace {

struct Shape {
    int64_t n_rows, width, n_tokens;
};

float to_bf16(float v) {
    return ggml_bf16_to_fp32(ggml_fp32_to_bf16(v));
}

double gamma(int64_t k) {
    const double u = std::ldexp(1.0, -24);
    return static_cast<double>(k) * u / (1 - static_cast<double>(k) * u);
}

// One product through a kernel: outputs sit in a wider buffer (stride + 3 spare columns, filled with a
// sentinel) that starts at `start`, so a write outside the tokens' columns shows.
struct KernelRun {
    std::vector<float> out;
    int64_t stride;
};

constexpr float kSentinel = 12345.0f;

struct Product {
    Shape shape;
    bool rows;  // W x (accumulate_rows), else W^T g
    std::vector<float> tile, in, start;

    int64_t n_sum() const { return rows ? shape.width : shape.n_rows; }
    int64_t n_out() const { return rows ? shape.n_rows : shape.width; }

    KernelRun run(const kernels::ProjectionKernel& kernel, bool twice = false) const {
        KernelRun r{std::vector<float>(static_cast<size_t>(shape.n_tokens * (n_out() + 3)), kSentinel),
                    n_out() + 3};
        for (int64_t t = 0; t < shape.n_tokens; ++t)
            for (int64_t j = 0; j < n_out(); ++j) r.out[t * r.stride + j] = start[t * n_out() + j];
        void* scratch = std::aligned_alloc(64, kernels::kScratchBytes);
        kernels::TileProduct p{tile.data(),    shape.n_rows, shape.width, in.data(), n_sum(),
                               shape.n_tokens, r.out.data(), r.stride,    scratch,   false};
        (rows ? kernel.accumulate_rows : kernel.accumulate_columns)(p);
        if (twice) {
            p.input_unchanged = true;  // the kernel may reuse the inputs it converted on the first call
            (rows ? kernel.accumulate_rows : kernel.accumulate_columns)(p);
        }
        std::free(scratch);
        return r;
    }

    // Exact sum in double of the BF16-rounded operands, and sum |w' x'|, for token t and output j.
    std::pair<double, double> exact(int64_t t, int64_t j) const {
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < n_sum(); ++k) {
            const float w = rows ? tile[j * shape.width + k] : tile[k * shape.width + j];
            const double term = double(to_bf16(w)) * to_bf16(in[t * n_sum() + k]);
            sum += term;
            magnitude += std::fabs(term);
        }
        return {sum, magnitude};
    }
};

template <typename Draw>
Product make_product(Shape shape, bool rows, Draw draw) {
    Product p{shape, rows, {}, {}, {}};
    p.tile.resize(static_cast<size_t>(shape.n_rows * shape.width));
    p.in.resize(static_cast<size_t>(shape.n_tokens * p.n_sum()));
    p.start.resize(static_cast<size_t>(shape.n_tokens * p.n_out()));
    for (auto* values : {&p.tile, &p.in, &p.start})
        for (float& v : *values) v = draw();
    return p;
}

// Shapes with full and partial 32-token and 32-output blocks, odd sums (a BF16 pair half empty), sums
// that are not a multiple of AMX's 32-term step, the largest tile (64 x 512), and more tokens than the
// kernel's cache of converted inputs holds.
const Shape kShapes[] = {{64, 512, 64}, {64, 512, 45}, {37, 333, 33},  {1, 16, 1},
                         {63, 500, 70}, {64, 96, 31},  {64, 512, 1100}};

class EmulatedAmxKernel : public ::testing::Test {
  protected:
    void SetUp() override {
        const std::string why = kernel_path_unavailable_reason(KernelPath::Avx512Bf16);
        if (!why.empty()) GTEST_SKIP() << "the amx kernel's packing needs AVX-512 BF16: " << why;
    }
};

// Largest |ours - exact| / bound over a product's outputs, and whether any sentinel changed.
void expect_within_bound(const Product& p, const KernelRun& r, int calls) {
    double worst = 0;
    for (int64_t t = 0; t < p.shape.n_tokens; ++t) {
        for (int64_t j = 0; j < p.n_out(); ++j) {
            const auto [sum, magnitude] = p.exact(t, j);
            const double expected = p.start[t * p.n_out() + j] + calls * sum;
            const double bound =
                gamma(calls * (p.n_sum() + 1)) * (calls * magnitude + std::fabs(p.start[t * p.n_out() + j])) +
                1e-30;
            worst = std::max(worst, std::fabs(r.out[t * r.stride + j] - expected) / bound);
        }
        for (int64_t j = p.n_out(); j < r.stride; ++j)
            ASSERT_EQ(r.out[t * r.stride + j], kSentinel) << "token " << t << " column " << j << " written";
    }
    EXPECT_LE(worst, 1.0);
}

TEST_F(EmulatedAmxKernel, RandomTilesMatchTheExactProductWithinTheBound) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (const Shape& s : kShapes) {
        for (bool rows : {true, false}) {
            SCOPED_TRACE(std::to_string(s.n_rows) + "x" + std::to_string(s.width) +
                         " tokens=" + std::to_string(s.n_tokens) + (rows ? " W x" : " W^T g"));
            const Product p = make_product(s, rows, [&] { return uniform(rng); });
            expect_within_bound(p, p.run(kernels::kAmxKernelEmulated), 1);
            expect_within_bound(p, p.run(kernels::kAmxKernelEmulated, true), 2);
        }
    }
}

TEST_F(EmulatedAmxKernel, SmallIntegerProductsAreExactAndEqualAvx512Bf16s) {
    // Integers in [-8, 8] are exact in BF16 and every partial sum is exact in F32: a dropped, repeated or
    // misplaced term shows as a difference, from the exact product and from the avx512bf16 kernel's.
    std::mt19937 rng(8);
    std::uniform_int_distribution<int> small(-8, 8);
    for (const Shape& s : kShapes) {
        for (bool rows : {true, false}) {
            SCOPED_TRACE(std::to_string(s.n_rows) + "x" + std::to_string(s.width) +
                         " tokens=" + std::to_string(s.n_tokens) + (rows ? " W x" : " W^T g"));
            const Product p = make_product(s, rows, [&] { return static_cast<float>(small(rng)); });
            const KernelRun amx = p.run(kernels::kAmxKernelEmulated);
            const KernelRun avx512 = p.run(kernels::kAvx512Bf16Kernel);
            int wrong = 0, differ = 0;
            for (int64_t t = 0; t < s.n_tokens; ++t) {
                for (int64_t j = 0; j < p.n_out(); ++j) {
                    const double expected = p.start[t * p.n_out() + j] + p.exact(t, j).first;
                    wrong += amx.out[t * amx.stride + j] != expected;
                    differ += amx.out[t * amx.stride + j] != avx512.out[t * avx512.stride + j];
                }
            }
            EXPECT_EQ(wrong, 0) << "outputs differing from the exact product";
            EXPECT_EQ(differ, 0) << "outputs differing from avx512bf16's";
        }
    }
}

TEST_F(EmulatedAmxKernel, PutsBackTheTileConfigurationItFound) {
    // Other code on the same thread may keep its own configuration loaded between calls (llama.cpp's AMX
    // matmul does): after a product it must be loaded again, byte for byte; with none, none.
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const Product p = make_product({64, 96, 40}, true, [&] { return uniform(rng); });
    alignas(64) uint8_t foreign[64] = {1};
    for (int i = 0; i < 8; ++i) {
        foreign[16 + 2 * i] = i < 2 ? 64 : 32;  // like llama.cpp's: 8 x 64 and 16 x 32 bytes
        foreign[48 + i] = i < 2 ? 8 : 16;
    }
    alignas(64) uint8_t after[64];
    _tile_loadconfig(foreign);
    p.run(kernels::kAmxKernelEmulated);
    _tile_storeconfig(after);
    EXPECT_EQ(std::memcmp(after, foreign, sizeof after), 0);
    _tile_release();
    p.run(kernels::kAmxKernelEmulated);
    _tile_storeconfig(after);
    const uint8_t none[64] = {};
    EXPECT_EQ(std::memcmp(after, none, sizeof after), 0);
}

TEST(AmxEmulation, DotProductsFollowThePseudoCode) {
    // C (16 x 16 lanes) += A (16 x 16 groups of 4 bytes) . B (16 x 16 groups): signed and unsigned bytes
    // into int32, BF16 pairs into F32, checked lane by lane against the instruction's definition.
    alignas(64) uint8_t config[64] = {1};
    for (int i = 0; i < 3; ++i) {
        config[16 + 2 * i] = 64;
        config[48 + i] = 16;
    }
    std::mt19937 rng(10);
    std::vector<uint8_t> a(16 * 64), b(16 * 64);
    for (auto& v : a) v = static_cast<uint8_t>(rng());
    for (auto& v : b) v = static_cast<uint8_t>(rng() & 0x3F);  // BF16 pairs of modest exponent
    std::vector<int32_t> c(16 * 16);
    _tile_loadconfig(config);
    _tile_loadd(1, a.data(), 64);
    _tile_loadd(2, b.data(), 64);
    _tile_zero(0);
    _tile_dpbssd(0, 1, 2);
    _tile_dpbusd(0, 1, 2);
    _tile_stored(0, c.data(), 64);
    int wrong = 0;
    for (int m = 0; m < 16; ++m) {
        for (int n = 0; n < 16; ++n) {
            int64_t expected = 0;
            for (int k = 0; k < 64; ++k) {
                const int y = static_cast<int8_t>(b[(k / 4) * 64 + 4 * n + k % 4]);
                expected += (static_cast<int8_t>(a[m * 64 + k]) + a[m * 64 + k]) * y;
            }
            wrong += c[m * 16 + n] != static_cast<int32_t>(expected);
        }
    }
    EXPECT_EQ(wrong, 0) << "int8 lanes differing from the definition";
    std::vector<float> f(16 * 16);
    _tile_zero(0);
    _tile_dpbf16ps(0, 1, 2);
    _tile_stored(0, f.data(), 64);
    _tile_release();
    wrong = 0;
    for (int m = 0; m < 16; ++m) {
        for (int n = 0; n < 16; ++n) {
            float expected = 0;
            for (int k = 0; k < 32; ++k) {
                uint16_t x, y;
                std::memcpy(&x, &a[m * 64 + 2 * k], 2);
                std::memcpy(&y, &b[(k / 2) * 64 + 4 * n + 2 * (k % 2)], 2);
                expected += ggml_bf16_to_fp32(ggml_bf16_t{x}) * ggml_bf16_to_fp32(ggml_bf16_t{y});
            }
            wrong += !(f[m * 16 + n] == expected || (std::isnan(f[m * 16 + n]) && std::isnan(expected)));
        }
    }
    EXPECT_EQ(wrong, 0) << "BF16 lanes differing from the definition";
}

TEST(AmxEmulation, FaultsWhereTheHardwareWould) {
    // The emulation is only worth its passes if it refuses what the hardware refuses.
    std::vector<float> out(16 * 16);
    EXPECT_DEATH(_tile_stored(0, out.data(), 64), "before _tile_loadconfig");
    alignas(64) uint8_t config[64] = {1};
    config[16] = 64;  // tmm0: 16 rows of 64 bytes
    config[48] = 16;
    config[18] = 64;  // tmm1: 8 rows of 64 bytes
    config[49] = 8;
    EXPECT_DEATH(
        {
            _tile_loadconfig(config);
            _tile_dpbf16ps(0, 1, 1);  // A has 16 pairs a row, B only 8 rows
        },
        "A's 4-byte columns differ from B's rows");
    EXPECT_DEATH(
        {
            _tile_loadconfig(config);
            _tile_zero(2);
        },
        "tile not configured");
}

}  // namespace
}  // namespace mimir
#endif
