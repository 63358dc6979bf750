// Matrix products through OpenBLAS cblas_sgemm.
#pragma once

#include <string>

#include "core/tensor.h"

namespace entlab {

// a (..., M, K) @ b (K, N) -> (..., M, N). b is shared by every leading index of a
// (the Linear case); backward sums b's gradient over them in one sgemm.
// a (B..., M, K) @ b (B..., K, N) -> (B..., M, N) with equal batch dims (attention).
// Either operand may be a transposed view of its last two dims (no copy is made).
// Saves a and b.
Tensor matmul(const Tensor& a, const Tensor& b);

// Sets OpenBLAS's own thread count (the OpenMP build follows the OpenMP setting too).
void set_blas_threads(int n);
// "openmp", "pthread" or "serial": how the loaded OpenBLAS runs its threads.
std::string blas_parallel_mode();

}  // namespace entlab
