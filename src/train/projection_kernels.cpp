#include "train/projection_kernels.h"

#include <array>
#include <mutex>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "train/kernels/projection_kernel.h"

namespace mimir {

namespace {

// Best first: what `auto` takes.
constexpr std::array kPreference = {KernelPath::Amx, KernelPath::Avx512Bf16, KernelPath::Avx512,
                                    KernelPath::Avx2, KernelPath::Generic};

#if defined(__x86_64__)
struct CpuFeatures {
    bool avx2 = false, fma = false;           // with the OS saving YMM state
    bool avx512 = false;                      // F, BW, VL, with the OS saving ZMM and opmask state
    bool avx512_bf16 = false;                 // CPUID.(7,1):EAX[5]
    bool amx_tile = false, amx_bf16 = false;  // CPUID.(7,0):EDX[24], EDX[22]
    bool amx_os = false;                      // XCR0 bits 17, 18 (XTILECFG, XTILEDATA)
};

uint64_t xcr0() {
    uint32_t eax = 0, edx = 0;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect_cpu() {
    CpuFeatures f;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    const bool osxsave = ecx & (1u << 27), avx = ecx & (1u << 28);
    f.fma = ecx & (1u << 12);
    if (!osxsave || !avx) return f;
    const uint64_t xcr = xcr0();
    const bool ymm_state = (xcr & 0x6) == 0x6, zmm_state = (xcr & 0xE6) == 0xE6;
    f.amx_os = (xcr & 0x60000) == 0x60000;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
    f.avx2 = ymm_state && (ebx & (1u << 5));
    f.avx512 = zmm_state && (ebx & (1u << 16)) && (ebx & (1u << 30)) && (ebx & (1u << 31));
    f.amx_tile = edx & (1u << 24);
    f.amx_bf16 = edx & (1u << 22);
    const unsigned max_subleaf = eax;
    if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) {
        f.avx512_bf16 = f.avx512 && (eax & (1u << 5));
    }
    return f;
}

const CpuFeatures& cpu() {
    static const CpuFeatures features = detect_cpu();
    return features;
}

// Linux hands out AMX's 8 KiB tile state only to processes that ask (since 5.16); asked once.
std::string amx_permission_refusal() {
    static std::once_flag once;
    static std::string refusal;
    std::call_once(once, [] {
        constexpr long kArchReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM, <asm/prctl.h>
        constexpr long kXfeatureXtiledata = 18;
        if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
            refusal =
                "Linux refused AMX tile data (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) failed; "
                "kernel older than 5.16?)";
        }
    });
    return refusal;
}
#endif

}  // namespace

const std::map<std::string, KernelPath>& kernel_paths_by_name() {
    static const std::map<std::string, KernelPath> names = {
        {"auto", KernelPath::Auto},     {"amx", KernelPath::Amx},   {"avx512bf16", KernelPath::Avx512Bf16},
        {"avx512", KernelPath::Avx512}, {"avx2", KernelPath::Avx2}, {"generic", KernelPath::Generic},
    };
    return names;
}

std::string kernel_path_name(KernelPath path) {
    for (const auto& [name, value] : kernel_paths_by_name()) {
        if (value == path) return name;
    }
    return "?";
}

std::string kernel_path_unavailable_reason(KernelPath path) {
    if (path == KernelPath::Auto || path == KernelPath::Generic) return "";
#if defined(__x86_64__)
    const CpuFeatures& f = cpu();
    switch (path) {
        case KernelPath::Amx:
            if (!f.amx_tile) return "this CPU has no AMX-TILE (CPUID.(EAX=7,ECX=0):EDX[24])";
            if (!f.amx_bf16) return "this CPU has no AMX-BF16 (CPUID.(EAX=7,ECX=0):EDX[22])";
            if (!f.avx512_bf16)
                return "this CPU has no AVX512_BF16 (CPUID.(EAX=7,ECX=1):EAX[5]), used to pack tiles";
            if (!f.amx_os) return "the OS does not enable AMX tile state (XCR0 bits 17, 18)";
            return amx_permission_refusal();
        case KernelPath::Avx512Bf16:
            if (!f.avx512) return "this CPU (or OS) has no AVX-512 F/BW/VL";
            if (!f.avx512_bf16) return "this CPU has no AVX512_BF16 (CPUID.(EAX=7,ECX=1):EAX[5])";
            return "";
        case KernelPath::Avx512:
            return f.avx512 ? "" : "this CPU (or OS) has no AVX-512 F/BW/VL";
        case KernelPath::Avx2:
            return f.avx2 && f.fma ? "" : "this CPU (or OS) has no AVX2 with FMA";
        default:
            return "";
    }
#else
    return "not an x86-64 build: only the generic path exists";
#endif
}

Result<KernelPath> resolve_kernel_path(KernelPath requested) {
    if (requested == KernelPath::Auto) {
        for (KernelPath path : kPreference) {
            if (kernel_path_available(path)) return path;
        }
        return KernelPath::Generic;
    }
    if (std::string why = kernel_path_unavailable_reason(requested); !why.empty()) {
        return Result<KernelPath>::failure(
            "kernels_unavailable", "kernels " + kernel_path_name(requested) + " cannot run here: " + why);
    }
    return requested;
}

KernelPath best_f32_kernel_path() {
    for (KernelPath path : kPreference) {
        if (!kernel_path_is_bf16(path) && kernel_path_available(path)) return path;
    }
    return KernelPath::Generic;
}

bool kernel_path_is_bf16(KernelPath path) {
    return path == KernelPath::Amx || path == KernelPath::Avx512Bf16;
}

const kernels::ProjectionKernel& projection_kernel(KernelPath path) {
    switch (path) {
#if defined(__x86_64__)
        case KernelPath::Amx:
            return kernels::kAmxKernel;
        case KernelPath::Avx512Bf16:
            return kernels::kAvx512Bf16Kernel;
        case KernelPath::Avx512:
            return kernels::kAvx512Kernel;
        case KernelPath::Avx2:
            return kernels::kAvx2Kernel;
#endif
        default:
            return kernels::kGenericKernel;
    }
}

}  // namespace mimir
