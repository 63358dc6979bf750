// Thread control. entlab parallelises over independent rows and heads with OpenMP;
// OpenBLAS (its OpenMP build) runs inside the same OpenMP runtime, so one setting
// governs both. A kernel called from inside a parallel region runs single-threaded.
#pragma once

#include <cstdint>

namespace entlab {

// Loops over fewer elements than this run on one thread: waking and joining the other
// threads would cost more than the loop. Kernels compare their element count (or
// multiply-adds for matmul) against it in the `if` clause of their parallel pragma.
constexpr int64_t kParallelMinWork = 1 << 16;

// Sets the number of OpenMP threads used from now on (n >= 1).
void set_num_threads(int n);
int num_threads();
// True when built with OpenMP.
bool openmp_enabled();

}  // namespace entlab
