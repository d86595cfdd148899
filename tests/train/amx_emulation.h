// A software AMX, so tile code runs and is checked on CPUs without AMX (CI's, and this workplace's AMD
// machines). Force-included (-include) before a translation unit that uses the tile intrinsics: it
// includes <immintrin.h> first, then replaces every _tile_* intrinsic with a function on a per-thread
// copy of the eight tile registers and their configuration (the configuration loaded, stored and released
// as the hardware's: zeros when none is loaded).
//
// It faults (prints what and aborts) wherever the hardware would raise #UD or read past a tile: a tile
// used before _tile_loadconfig or after _tile_release, a configuration the hardware refuses (palette other
// than 1, more than 16 rows or 64 bytes a row, bytes a row not a multiple of 4), or a multiply whose tile
// shapes disagree (A's columns against B's rows, C's rows and columns against A's and B's). Arithmetic
// follows the instruction pseudo-code: int8 dot products sum exactly into int32 (wrapping), BF16 products
// are exact in F32 and added one at a time; unlike the hardware it does not flush F32 denormals, which
// only matters to results below FLT_MIN.
//
// The translation unit's kernel table is renamed (kAmxKernel -> kAmxKernelEmulated), so the emulated and
// the real kernel can sit in one test binary.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mimir::amx_emulation {

struct Tile {
    int rows = 0;
    int bytes_per_row = 0;
    alignas(64) uint8_t data[16][64] = {};
};

struct Registers {
    bool configured = false;
    uint8_t config[64] = {};  // as loaded; what _tile_storeconfig gives back (zeros when not configured)
    Tile tiles[8];
};

inline Registers& registers() {
    static thread_local Registers state;
    return state;
}

[[noreturn]] inline void fault(const char* what, int tile) {
    std::fprintf(stderr, "emulated AMX fault: %s (tile %d)\n", what, tile);
    std::abort();
}

inline Tile& tile(int index) {
    Registers& r = registers();
    if (index < 0 || index > 7) fault("no such tile register", index);
    if (!r.configured) fault("tile instruction before _tile_loadconfig (#UD)", index);
    Tile& t = r.tiles[index];
    if (t.rows == 0 || t.bytes_per_row == 0) fault("tile not configured (#UD)", index);
    return t;
}

// The 64-byte configuration: palette, start row, 14 reserved bytes, 16 x uint16 bytes a row, 16 x uint8 rows.
inline void load_config(const void* config) {
    uint8_t bytes[64];
    std::memcpy(bytes, config, sizeof bytes);
    Registers& r = registers();
    r = Registers{};
    if (bytes[0] == 0) return;  // palette 0 releases the tiles
    if (bytes[0] != 1) fault("palette other than 1 (#GP)", -1);
    for (int i = 0; i < 16; ++i) {
        uint16_t bytes_per_row;
        std::memcpy(&bytes_per_row, bytes + 16 + 2 * i, sizeof bytes_per_row);
        const int rows = bytes[48 + i];
        if (i >= 8) {
            if (rows != 0 || bytes_per_row != 0) fault("configuration for a tile past tmm7 (#GP)", i);
            continue;
        }
        if (rows > 16 || bytes_per_row > 64 || bytes_per_row % 4 != 0)
            fault("tile shape out of range (#GP)", i);
        if ((rows == 0) != (bytes_per_row == 0))
            fault("tile with rows but no bytes, or bytes but no rows", i);
        r.tiles[i].rows = rows;
        r.tiles[i].bytes_per_row = bytes_per_row;
    }
    std::memcpy(r.config, bytes, sizeof bytes);
    r.configured = true;
}

inline void store_config(void* config) {
    std::memcpy(config, registers().config, sizeof(Registers::config));
}

inline void release() {
    registers() = Registers{};
}

inline void load(int index, const void* base, long stride) {
    Tile& t = tile(index);
    std::memset(t.data, 0, sizeof t.data);
    for (int r = 0; r < t.rows; ++r)
        std::memcpy(t.data[r], static_cast<const uint8_t*>(base) + r * stride,
                    static_cast<size_t>(t.bytes_per_row));
}

inline void store(int index, void* base, long stride) {
    const Tile& t = tile(index);
    for (int r = 0; r < t.rows; ++r)
        std::memcpy(static_cast<uint8_t*>(base) + r * stride, t.data[r],
                    static_cast<size_t>(t.bytes_per_row));
}

inline void zero(int index) {
    std::memset(tile(index).data, 0, sizeof(Tile::data));
}

// C (M x N 32-bit lanes) += A (M x K 4-byte groups) . B (K rows x N 4-byte groups): the shapes must agree.
inline void check_shapes(const Tile& c, const Tile& a, const Tile& b, int index) {
    if (a.bytes_per_row / 4 != b.rows) fault("A's 4-byte columns differ from B's rows (#UD)", index);
    if (c.rows != a.rows) fault("C's rows differ from A's (#UD)", index);
    if (c.bytes_per_row != b.bytes_per_row) fault("C's bytes a row differ from B's (#UD)", index);
}

// C's 32-bit lane (m, n) = accumulate(lane, A's 4 bytes (m, k), B's 4 bytes (k, n)) for k in order.
template <typename Lane, typename Accumulate>
void dot(int c_index, int a_index, int b_index, Accumulate accumulate) {
    Tile& c = tile(c_index);
    const Tile& a = tile(a_index);
    const Tile& b = tile(b_index);
    check_shapes(c, a, b, c_index);
    for (int m = 0; m < c.rows; ++m) {
        for (int n = 0; n < c.bytes_per_row / 4; ++n) {
            Lane lane;
            std::memcpy(&lane, c.data[m] + 4 * n, sizeof lane);
            for (int k = 0; k < b.rows; ++k) lane = accumulate(lane, a.data[m] + 4 * k, b.data[k] + 4 * n);
            std::memcpy(c.data[m] + 4 * n, &lane, sizeof lane);
        }
    }
}

// Four byte products summed into an int32 that wraps (unsigned arithmetic keeps the wrap defined).
template <typename A, typename B>
void dot_int8(int c_index, int a_index, int b_index) {
    dot<uint32_t>(c_index, a_index, b_index, [](uint32_t sum, const uint8_t* x, const uint8_t* y) {
        for (int i = 0; i < 4; ++i)
            sum += static_cast<uint32_t>(static_cast<int32_t>(static_cast<A>(x[i])) * static_cast<B>(y[i]));
        return sum;
    });
}

inline float bf16_value(const uint8_t* p) {
    uint16_t bits;
    std::memcpy(&bits, p, sizeof bits);
    const uint32_t wide = static_cast<uint32_t>(bits) << 16;
    float value;
    std::memcpy(&value, &wide, sizeof value);
    return value;
}

// Two BF16 products, each exact in F32, added one at a time.
inline void dot_bf16(int c_index, int a_index, int b_index) {
    dot<float>(c_index, a_index, b_index, [](float sum, const uint8_t* x, const uint8_t* y) {
        sum += bf16_value(x) * bf16_value(y);
        sum += bf16_value(x + 2) * bf16_value(y + 2);
        return sum;
    });
}

}  // namespace mimir::amx_emulation

#undef _tile_loadd
#undef _tile_stream_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbssd
#undef _tile_dpbsud
#undef _tile_dpbusd
#undef _tile_dpbuud
#undef _tile_dpbf16ps
#define _tile_loadconfig(config) ::mimir::amx_emulation::load_config(config)
#define _tile_storeconfig(config) ::mimir::amx_emulation::store_config(config)
#define _tile_release() ::mimir::amx_emulation::release()
#define _tile_loadd(tile, base, stride) ::mimir::amx_emulation::load(tile, base, stride)
#define _tile_stream_loadd(tile, base, stride) ::mimir::amx_emulation::load(tile, base, stride)
#define _tile_stored(tile, base, stride) ::mimir::amx_emulation::store(tile, base, stride)
#define _tile_zero(tile) ::mimir::amx_emulation::zero(tile)
#define _tile_dpbssd(c, a, b) ::mimir::amx_emulation::dot_int8<int8_t, int8_t>(c, a, b)
#define _tile_dpbsud(c, a, b) ::mimir::amx_emulation::dot_int8<int8_t, uint8_t>(c, a, b)
#define _tile_dpbusd(c, a, b) ::mimir::amx_emulation::dot_int8<uint8_t, int8_t>(c, a, b)
#define _tile_dpbuud(c, a, b) ::mimir::amx_emulation::dot_int8<uint8_t, uint8_t>(c, a, b)
#define _tile_dpbf16ps(c, a, b) ::mimir::amx_emulation::dot_bf16(c, a, b)

#define kAmxKernel kAmxKernelEmulated
#endif
