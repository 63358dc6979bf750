#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace entlab {

void fail_assert(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "entlab internal error: assertion '%s' failed at %s:%d\n", condition, file,
               line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace entlab
