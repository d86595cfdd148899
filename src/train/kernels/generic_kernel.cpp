// The F32 path for generic (target flags in ../CMakeLists.txt).

#include "train/kernels/f32_kernel.inc"

namespace mimir::kernels {

extern const ProjectionKernel kGenericKernel = {"generic", accumulate_columns, accumulate_rows};

}  // namespace mimir::kernels
