// Which instructions multiply the frozen weights in train/projection_ops (W x forward, W^T g backward).
// Each path is its own translation unit built with its own target flags (src/train/kernels/), so the binary
// runs on any x86-64 CPU: a path runs only after CPUID (and, for AMX, Linux's permission) says it can.
//   amx         BF16 tiles (_tile_dpbf16ps): weights and activations rounded to BF16, F32 accumulation.
//   avx512bf16  the same numbers on AVX-512 registers (vdpbf16ps).
//   avx512      F32 products on 16-float registers.
//   avx2        F32 products on 8-float registers with FMA.
//   generic     F32 products built for baseline x86-64 (or any other CPU): always available.
// `auto` takes the first available path in that order. The BF16 paths round both operands to BF16 (8
// significant bits): a product's error is at most about 2^-7 of the sum of its terms' magnitudes, against
// n * 2^-24 for the F32 paths (the tests state and check both). Weights being trained (full fine-tuning)
// always take the best F32 path; so do the finite-difference gradient tests.
#pragma once

#include <map>
#include <string>

#include "support/result.h"

namespace mimir {

enum class KernelPath { Auto, Amx, Avx512Bf16, Avx512, Avx2, Generic };

// As --kernels and MIMIR_KERNELS spell them: auto, amx, avx512bf16, avx512, avx2, generic.
const std::map<std::string, KernelPath>& kernel_paths_by_name();
std::string kernel_path_name(KernelPath path);

// Empty when `path` can run in this process; otherwise why not, naming the missing CPU feature or the
// refused permission (e.g. "this CPU has no AMX-BF16 (CPUID.(EAX=7,ECX=0):EDX[22])"). Auto is always
// available. Asking for AMX requests the permission once (arch_prctl(ARCH_REQ_XCOMP_PERM)).
std::string kernel_path_unavailable_reason(KernelPath path);
inline bool kernel_path_available(KernelPath path) {
    return kernel_path_unavailable_reason(path).empty();
}

// Auto -> the best available path; a forced path this process cannot run -> "kernels_unavailable" with
// the reason.
Result<KernelPath> resolve_kernel_path(KernelPath requested);

// The fastest available path with F32 products (avx512, avx2 or generic).
KernelPath best_f32_kernel_path();

// Whether `path` rounds its operands to BF16.
bool kernel_path_is_bf16(KernelPath path);

namespace kernels {
struct ProjectionKernel;
}
// The functions of an available, resolved path (train/projection_ops uses them; Auto gives generic's).
const kernels::ProjectionKernel& projection_kernel(KernelPath path);

}  // namespace mimir
