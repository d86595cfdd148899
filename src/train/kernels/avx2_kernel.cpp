// The F32 path for avx2 (target flags in ../CMakeLists.txt).
#if defined(__x86_64__)
#include "train/kernels/f32_kernel.inc"

namespace mimir::kernels {

extern const ProjectionKernel kAvx2Kernel = {"avx2", accumulate_columns, accumulate_rows};

}  // namespace mimir::kernels
#endif
