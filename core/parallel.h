// Thread control. entlab parallelises over independent rows and heads with OpenMP;
// OpenBLAS (its OpenMP build) runs inside the same OpenMP runtime, so one setting
// governs both. A kernel called from inside a parallel region runs single-threaded.
#pragma once

namespace entlab {

// Sets the number of OpenMP threads used from now on (n >= 1).
void set_num_threads(int n);
int num_threads();
// True when built with OpenMP.
bool openmp_enabled();

}  // namespace entlab
