// The amx kernel as compiled into mimir_train (not the software AMX) hands ldtilecfg the whole 64-byte
// configuration it means. GCC's _tile_loadconfig / _tile_storeconfig declare an 8-byte operand, so an
// optimiser may drop the stores that fill the rest; llama.cpp's mmq.cpp is compiled that way at -O3 and
// faults on AMX CPUs (README, issue 13). On a CPU without AMX every tile instruction raises #UD: a SIGILL
// handler plays sttilecfg (no configuration loaded: 64 zero bytes), and at ldtilecfg copies what the
// compiled code passes and jumps back here. On CPUs with AMX projection_ops_test runs the kernel for real.
#if defined(__x86_64__) && defined(__linux__)
#include <gtest/gtest.h>
#include <ucontext.h>

#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "train/kernels/projection_kernel.h"
#include "train/projection_kernels.h"

namespace mimir {
namespace {

sigjmp_buf trap_return;
uint8_t loaded_config[64];
int stores_played = 0;

// The memory operand of a VEX-encoded ldtilecfg / sttilecfg (C4, map 0F38, opcode 49, ModRM reg 0):
// its address and the instruction's length. Only base (+ displacement) forms, which is what compilers
// emit for a configuration on the stack; anything else is reported as not understood.
struct TileConfigInstruction {
    bool store;  // sttilecfg (prefix 66), else ldtilecfg
    uint8_t* address;
    int length;
};

bool decode(const uint8_t* ip, const ucontext_t& ctx, TileConfigInstruction* out) {
    if (ip[0] != 0xC4 || (ip[1] & 0x1F) != 0x02 || ip[3] != 0x49 || ((ip[4] >> 3) & 7) != 0) return false;
    const int pp = ip[2] & 0x03;
    if (pp != 0 && pp != 1) return false;
    static const int kRegisters[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                       REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                       REG_R12, REG_R13, REG_R14, REG_R15};
    const int mod = ip[4] >> 6, rm = ip[4] & 7;
    if (mod == 3) return false;
    int length = 5, base = rm;
    if (rm == 4) {
        const uint8_t sib = ip[5];
        const int index = ((sib >> 3) & 7) | ((ip[1] & 0x40) ? 0 : 8);
        if (index != 4) return false;  // a scaled index: not what a stack configuration looks like
        base = sib & 7;
        ++length;
    }
    if (mod == 0 && base == 5) return false;  // RIP-relative or absolute
    int64_t displacement = 0;
    if (mod == 1) {
        displacement = static_cast<int8_t>(ip[length]);
        length += 1;
    } else if (mod == 2) {
        int32_t d;
        std::memcpy(&d, ip + length, sizeof d);
        displacement = d;
        length += 4;
    }
    base |= (ip[1] & 0x20) ? 0 : 8;
    out->store = pp == 1;
    out->address = reinterpret_cast<uint8_t*>(ctx.uc_mcontext.gregs[kRegisters[base]] + displacement);
    out->length = length;
    return true;
}

void on_sigill(int, siginfo_t*, void* raw) {
    auto* ctx = static_cast<ucontext_t*>(raw);
    const auto* ip = reinterpret_cast<const uint8_t*>(ctx->uc_mcontext.gregs[REG_RIP]);
    TileConfigInstruction instruction;
    if (!decode(ip, *ctx, &instruction)) siglongjmp(trap_return, 2);
    if (instruction.store) {
        std::memset(instruction.address, 0, 64);
        ctx->uc_mcontext.gregs[REG_RIP] += instruction.length;
        ++stores_played;
        return;
    }
    std::memcpy(loaded_config, instruction.address, sizeof loaded_config);
    siglongjmp(trap_return, 1);
}

TEST(AmxKernelAsCompiled, HandsLdtilecfgTheWholeConfiguration) {
    if (kernel_path_available(KernelPath::Amx))
        GTEST_SKIP() << "this CPU runs AMX: projection_ops_test's amx cases run the kernel itself";
    const std::string why = kernel_path_unavailable_reason(KernelPath::Avx512Bf16);
    if (!why.empty())
        GTEST_SKIP() << "the amx kernel packs with AVX-512 BF16 before its first tile instruction: " << why;

    std::vector<float> tile(64 * 96, 0.5f), in(40 * 96, 0.25f), out(40 * 64, 0.0f);
    void* scratch = std::aligned_alloc(64, kernels::kScratchBytes);
    kernels::TileProduct product{tile.data(), 64, 96, in.data(), 96, 40, out.data(), 64, scratch, false};
    struct sigaction trap = {}, previous = {};
    trap.sa_sigaction = on_sigill;
    trap.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &trap, &previous);
    stores_played = 0;
    std::memset(loaded_config, 0xEE, sizeof loaded_config);
    const int outcome = sigsetjmp(trap_return, 1);
    if (outcome == 0) kernels::kAmxKernel.accumulate_rows(product);
    sigaction(SIGILL, &previous, nullptr);
    std::free(scratch);

    ASSERT_EQ(outcome, 1) << (outcome == 0 ? "the kernel ran no tile instruction"
                                           : "a SIGILL at an instruction other than ldtilecfg / sttilecfg");
    EXPECT_EQ(stores_played, 1) << "the configuration found on the thread is saved first";
    uint8_t expected[64] = {1};  // palette 1, start row 0, reserved bytes zero
    for (int i = 0; i < 8; ++i) {
        expected[16 + 2 * i] = 64;  // bytes a row (little-endian uint16)
        expected[48 + i] = 16;      // rows
    }
    for (int i = 0; i < 64; ++i) EXPECT_EQ(loaded_config[i], expected[i]) << "configuration byte " << i;
}

}  // namespace
}  // namespace mimir
#endif
