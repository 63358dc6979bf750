#include "core/parallel.h"

#include "core/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace entlab {

void set_num_threads(int n) {
  ENTLAB_CHECK(n >= 1, "invalid thread count ", n, ": must be at least 1");
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace entlab
